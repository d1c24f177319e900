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

from haystack_integrations.testing.jina.__main__ import emulator_process

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "benchmarks" / "_shared_key_jobs.py"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JINA_")}
    env.update({"PYTHONPATH": os.pathsep.join(sys.path), "HAYSTACK_TELEMETRY_ENABLED": "False", **(extra or {})})
    return env


@pytest.fixture
def free_tier_cli() -> Iterator[dict[str, str]]:
    """The emulator CLI enforcing concurrency 5 per key; yields the exports it printed."""
    with emulator_process("--quiet", "--limits", "concurrency=5", "--latency", "0.08", env=child_env()) as exports:
        yield exports


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
