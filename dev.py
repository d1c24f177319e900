"""Developer entry point that needs nothing but Python 3.10+.

    python3 dev.py examples   # run every example against the bundled JinaEmulator (--live: the hosted API)
                              # (--slow: also those that take minutes, e.g. 13_ray_shared_key.py)
    python3 dev.py serve-test # Hayhooks serving examples/16_serve_with_hayhooks with 4 workers on one key
    python3 dev.py test       # the test suite on Haystack 2.20, the newest 2.x and the newest 3.x, at once
    python3 dev.py lint | types | bench | build | fmt
    python3 dev.py clean      # remove .dev/: the hatch environments and the bootstrap venv

It uses `hatch` from PATH, or installs it once into `.dev/venv`, and runs the matching hatch script.
Environments live in `.dev/hatch` (unless HATCH_DATA_DIR is set), so the clone holds all of them;
packages are installed with uv, whose download cache (~/.cache/uv) is shared by every clone.
`test --serial` runs the Haystack lines one after another; other arguments go to pytest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEV = ROOT / ".dev"
COMMANDS = {
    "examples": ["run", "examples:run"],
    "serve-test": ["run", "examples:serve-test"],
    "test": ["run", "test:run"],
    "lint": ["run", "lint:check"],
    "fmt": ["run", "lint:fmt"],
    "types": ["run", "types:check"],
    "bench": ["run", "bench:all"],
    "build": ["build"],
}
BIN = "Scripts" if os.name == "nt" else "bin"


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def hatch() -> str:
    found = shutil.which("hatch")
    if found:
        return found
    env = DEV / "venv"
    binary = env / BIN / "hatch"
    if not binary.exists():
        started = time.monotonic()
        say("installing hatch into .dev/venv (once)")
        venv.create(env, with_pip=True)
        python = str(env / BIN / "python")
        # uv first (one wheel), then hatch through it: far quicker than pip resolving hatch's dependencies
        say("  pip install uv")
        subprocess.run([python, "-m", "pip", "install", "--progress-bar", "on", "uv"], check=True)
        say("  uv pip install hatch")
        uv = str(env / BIN / "uv")
        subprocess.run([uv, "pip", "install", "--python", python, "hatch>=1.13"], check=True)
        say(f"hatch installed in {time.monotonic() - started:.0f} s")
    return str(binary)


def test_environments(hatch_binary: str) -> list[str]:
    """The matrix environments of `test` (test.2.20, test.2, test.3), as hatch reads them from pyproject.toml."""
    shown = subprocess.run(
        [hatch_binary, "env", "show", "--json"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return [name for name in json.loads(shown) if name.startswith("test.")]


def run_tests(hatch_binary: str, args: list[str]) -> int:
    """
    Create the test environments (hatch shows each step), then run pytest in all of them at once.

    The suite mostly waits on local servers (latency, retries, timeouts), so the Haystack lines overlap
    well even on two cores. Each one's output is shown when it finishes.
    """
    if "--serial" in args:
        args = [arg for arg in args if arg != "--serial"]
        return subprocess.run([hatch_binary, *COMMANDS["test"], *args], cwd=ROOT, check=False).returncode
    started = time.monotonic()
    created = subprocess.run([hatch_binary, "env", "create", "test"], cwd=ROOT, check=False)
    if created.returncode:
        return created.returncode
    names = test_environments(hatch_binary)
    say(f"environments ready in {time.monotonic() - started:.0f} s; running the tests in {', '.join(names)} at once")
    failed = []
    with contextlib.ExitStack() as logs:
        running = {}
        for name in names:
            log = logs.enter_context(tempfile.TemporaryFile(mode="w+", encoding="utf-8"))
            command = [hatch_binary, "run", f"{name}:run", *args]
            running[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)
        while running:
            for name, (process, log) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[name]
                log.seek(0)
                output = log.read()
                print(f"\n{'=' * 30} {name} {'=' * 30}\n{output}", end="", flush=True)
                summary = output.strip().splitlines()[-1] if output.strip() else "no output"
                say(f"{name} finished after {time.monotonic() - started:.0f} s: {summary.strip('= ')}")
                if process.returncode:
                    failed.append(name)
            time.sleep(0.2)
    say(f"{'failed in ' + ', '.join(failed) if failed else 'all passed'} ({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["clean"]:
        shutil.rmtree(DEV, ignore_errors=True)
        say("removed .dev/ (hatch environments and the bootstrap venv); uv's cache: `uv cache clean`")
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    os.environ.setdefault("HATCH_DATA_DIR", str(DEV / "hatch"))  # keep the environments inside the clone
    binary = hatch()
    if argv[0] == "test":
        return run_tests(binary, argv[1:])
    command = [binary, *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
