"""Run every example and summarise: `python examples/run_all.py [-q] [name ...]`.

Each example runs as its own process with this interpreter; its output streams through (with `-q`,
only a failing example's output is shown). Names select examples by substring, e.g. `run_all.py yaml`.
The examples use the bundled JinaEmulator, whatever is exported; `--live` runs them against the hosted
Jina API with your JINA_API_KEY (spending credits). Examples that take minutes (`SLOW`) run only with
`--slow` or when named. Exits 1 when any example fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 600  # seconds per example; the hosted Reader's ground mode can take a while
SKIPPED = 77  # an example exits with this when an optional package it needs is missing (e.g. qdrant-haystack)
#: Examples that take minutes (starting a Ray cluster on two cores took 2.5 min): run with --slow or by name.
SLOW = {"13_ray_shared_key.py"}


def examples(names: list[str], slow: bool = False) -> list[Path]:
    found = sorted(path for path in HERE.glob("[0-9][0-9]_*.py"))
    if names:
        return [path for path in found if any(name in path.stem for name in names)]
    return [path for path in found if slow or path.name not in SLOW]


def run(path: Path, quiet: bool, live: bool = False) -> tuple[str, float]:
    """Run one example; its status is `ok`, `skipped` (exit code `SKIPPED`) or `FAILED`."""
    if not quiet:
        print(f"\n=== {path.name}", flush=True)
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, str(path)],
            cwd=HERE.parent,
            env={**os.environ, "JINA_EXAMPLES_LIVE": "1" if live else "0"},
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        if quiet:
            print(f"\n=== {path.name}", flush=True)
            output = error.stdout or ""
            print(output if isinstance(output, str) else output.decode(errors="replace"), end="")
        print(f"{path.name}: timed out after {TIMEOUT} s", flush=True)
        return "FAILED", time.perf_counter() - start
    seconds = time.perf_counter() - start
    ok = completed.returncode in (0, SKIPPED)
    if quiet and not ok:
        print(f"\n=== {path.name}", flush=True)
        print(completed.stdout, end="")
    if not ok:
        print(f"{path.name}: exit code {completed.returncode}", flush=True)
    return ("skipped" if completed.returncode == SKIPPED else "ok") if ok else "FAILED", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="run only the examples whose file name contains one of these")
    parser.add_argument("-q", "--quiet", action="store_true", help="show an example's output only when it fails")
    parser.add_argument(
        "--live", action="store_true", help="call the hosted Jina API (needs JINA_API_KEY; costs credits)"
    )
    parser.add_argument("--slow", action="store_true", help=f"also run the examples that take minutes: {sorted(SLOW)}")
    args = parser.parse_args(argv)

    selected = examples(args.names, args.slow)
    if not selected:
        print(f"no example matches {args.names}", file=sys.stderr)
        return 2
    if args.live and not os.environ.get("JINA_API_KEY"):
        print("--live calls the hosted Jina API: export JINA_API_KEY first", file=sys.stderr)
        return 2
    outcomes = [(path, *run(path, args.quiet, args.live)) for path in selected]

    print("\n=== summary")
    for path, status, seconds in outcomes:
        print(f"{path.name:<24} {status:<7} {seconds:6.1f} s")
    failed = [path.name for path, status, _ in outcomes if status == "FAILED"]
    skipped = [path.name for path, status, _ in outcomes if status == "skipped"]
    total = sum(seconds for _, _, seconds in outcomes)
    note = f" ({len(skipped)} skipped: a package they need is missing)" if skipped else ""
    print(f"{len(outcomes) - len(failed) - len(skipped)}/{len(outcomes)} examples passed{note} in {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
