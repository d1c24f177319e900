"""Developer entry point that needs nothing but Python 3.10+.

    python3 dev.py examples   # run every example against the bundled JinaEmulator (--live: the hosted API)
    python3 dev.py test       # the test suite on Haystack 2.20, the newest 2.x and the newest 3.x
    python3 dev.py lint | types | bench | build | fmt

It uses `hatch` from PATH, or installs it once into `.dev/venv`, and runs the matching hatch script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
COMMANDS = {
    "examples": ["run", "examples:run"],
    "test": ["run", "test:run"],
    "lint": ["run", "lint:check"],
    "fmt": ["run", "lint:fmt"],
    "types": ["run", "types:check"],
    "bench": ["run", "bench:all"],
    "build": ["build"],
}


def hatch() -> str:
    found = shutil.which("hatch")
    if found:
        return found
    env = ROOT / ".dev" / "venv"
    binary = env / ("Scripts" if os.name == "nt" else "bin") / "hatch"
    if not binary.exists():
        print("dev.py: installing hatch into .dev/venv (once)", flush=True)
        venv.create(env, with_pip=True)
        python = env / ("Scripts" if os.name == "nt" else "bin") / "python"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "hatch>=1.13"], check=True)
    return str(binary)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    command = [hatch(), *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
