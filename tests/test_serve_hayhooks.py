"""Hayhooks serves examples/16_serve_with_hayhooks with 4 workers on one Free-tier key: 200 queries at once, 0 errors.

The emulator CLI enforces the key's limits (concurrency 5, 50 ms a request) across the 4 worker processes;
`load.py` starts it and `hayhooks run --workers 4`, waits for every worker's `setup()`, and fires the 200
queries at once. Hayhooks is an example-only package: the test suite's environment does not have it, so
this test is skipped there; `python3 dev.py serve-test` runs it in the examples environment, which has it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LOAD = Path(__file__).resolve().parent.parent / "examples" / "16_serve_with_hayhooks" / "load.py"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hayhooks") is None, reason="needs hayhooks: run `python3 dev.py serve-test`"
)


def test_four_workers_on_a_free_tier_key_answer_200_concurrent_queries_without_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HAYSTACK_TELEMETRY_ENABLED": "False"}
    log = tmp_path / "hayhooks.log"
    command = [sys.executable, str(LOAD), "--workers", "4", "--requests", "200", "--limits", "free"]
    completed = subprocess.run(
        [*command, "--log", str(log)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    report = f"{completed.stdout}\n{completed.stderr[-3000:]}"
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, report
    outcome = json.loads(lines[-1])
    assert outcome["requests"] == 200, report
    assert outcome["errors"] == 0, report
    assert "jina_emulator_key" not in log.read_text(encoding="utf-8")  # the key is never logged
