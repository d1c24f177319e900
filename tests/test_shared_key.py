"""One key, several processes: the emulator CLI enforces the key's limits across all of them, and every job ends.

The emulator runs as its own process (the CLI), as a user would start it for integration tests, with the
Free tier's concurrency (5) and 80 ms per request. `benchmarks/_shared_key_jobs.py` forks 4 workers after
importing Haystack; they start together on a barrier, each embedding 400 documents in batches of 8 (50
requests) with a `JinaDocumentEmbedder` at its defaults, nothing stated: the key is over-subscribed from
the first round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "benchmarks" / "_shared_key_jobs.py"
CLI = [sys.executable, "-m", "haystack_integrations.testing.jina", "--port", "0", "--quiet"]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JINA_")}
    env.update({"PYTHONPATH": os.pathsep.join(sys.path), "HAYSTACK_TELEMETRY_ENABLED": "False", **(extra or {})})
    return env


@pytest.fixture
def free_tier_cli() -> Iterator[dict[str, str]]:
    """The emulator CLI enforcing concurrency 5 per key; yields the exports it printed."""
    command = [*CLI, "--limits", "concurrency=5", "--latency", "0.08"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert process.stdout is not None
        exports: dict[str, str] = {}
        while len(exports) < 4:
            line = process.stdout.readline()
            assert line, "the emulator CLI exited before printing its exports"
            if line.startswith("export "):
                name, value = line[len("export ") :].strip().split("=", 1)
                exports[name] = value.strip("'")
        yield exports
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.xfail(strict=True, reason="passes once issue 24's pacer lands (refusals become flow control)")
def test_four_processes_on_a_free_tier_key_all_finish(free_tier_cli: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, str(JOBS), "--processes", "4", "--docs", "400", "--batch-size", "8"],
        env=child_env(free_tier_cli),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outcomes = [json.loads(line) for line in completed.stdout.splitlines() if '"process"' in line]
    report = f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr[-2000:]}"
    assert len(outcomes) == 4, report
    assert [o["error"] for o in outcomes] == [None] * 4, report
    assert [o["documents"] for o in outcomes] == [400] * 4, report
    assert completed.returncode == 0, report
