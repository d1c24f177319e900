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
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import TextIO

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
    well even on two cores. A line every 10 s shows how far each one is; each one's output is shown when
    it finishes.
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
    commands = {name: [hatch_binary, "run", f"{name}:run", *args] for name in names}
    failed = run_lines(commands, cwd=ROOT)
    say(f"{'failed in ' + ', '.join(failed) if failed else 'all passed'} ({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


#: pytest's progress at the end of a line of results: `[ 42%]`
PERCENT = re.compile(rb"\[\s*(\d{1,3})%\]")


class Progress:
    """How far each line is, read from the new bytes of its log; shown as one whole line, never interleaved."""

    def __init__(self, names: list[str]) -> None:
        self.percent: dict[str, int | None] = dict.fromkeys(names)
        self.done: dict[str, str] = {}

    def read(self, name: str, new: bytes) -> bool:
        """Take the bytes the line wrote since the last call; whether its progress changed."""
        found = PERCENT.findall(new)
        if not found or int(found[-1]) == self.percent[name]:
            return False
        self.percent[name] = int(found[-1])
        return True

    def line(self, elapsed: float) -> str:
        parts = []
        for name, percent in self.percent.items():
            state = self.done.get(name) or ("starting" if percent is None else f"{percent}%")
            parts.append(f"{name} {state}")
        return f"{elapsed:4.0f} s: {', '.join(parts)}"


def run_lines(
    commands: dict[str, list[str]], *, cwd: Path, out: TextIO | None = None, interval: float = 10.0
) -> list[str]:
    """
    Run the commands at once, each writing to its own log; every `interval` seconds in which one of them made
    progress, print one line with each one's percentage; print each one's output when it finishes.

    :returns: The names of the commands that failed.
    """
    out = out or sys.stdout
    started = last_shown = time.monotonic()
    progress = Progress(list(commands))
    unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # a log file would otherwise fill in 8 KB blocks
    failed = []
    with contextlib.ExitStack() as logs:
        running = {}
        for name, command in commands.items():
            log = logs.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=unbuffered)
            running[name] = (process, log, 0)
        changed = False
        while running:
            for name, (process, log, offset) in list(running.items()):
                finished = process.poll() is not None  # polled before reading: the log is then complete
                log.seek(offset)
                new = log.read()
                running[name] = (process, log, offset + len(new))
                changed = progress.read(name, new) or changed
                if not finished:
                    continue
                del running[name]
                log.seek(0)
                output = log.read().decode("utf-8", errors="replace")
                print(f"\n{'=' * 30} {name} {'=' * 30}\n{output}", end="", file=out, flush=True)
                summary = output.strip().splitlines()[-1] if output.strip() else "no output"
                elapsed = time.monotonic() - started
                print(f"dev.py: {name} finished after {elapsed:.0f} s: {summary.strip('= ')}", file=out, flush=True)
                progress.done[name] = "failed" if process.returncode else "done"
                if process.returncode:
                    failed.append(name)
            now = time.monotonic()
            if changed and running and now - last_shown >= interval:
                print(f"dev.py: {progress.line(now - started)}", file=out, flush=True)
                last_shown, changed = now, False
            time.sleep(0.2)
    return failed


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
