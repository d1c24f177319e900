"""The examples run offline against the JinaEmulator, whatever is exported, say so first, and succeed.

Every example runs as its own process, as a user would start it, with a key and endpoints exported that
lead nowhere: the emulator must win over them unless `--live` is asked for. They run a few at a time
(they spend most of their time importing Haystack), so the module takes seconds, not minutes.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from conformance import CHECKED_PATHS, problems_of
from jina_spec import MISSING_REASON, load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))
TIMEOUT = 120
#: Examples that only read and search (no /v1/embeddings or /v1/rerank request to check).
READER_ONLY = {"04_reader.py", "07_agent_web_research.py"}
#: The exit code of an example whose optional package is missing (09 needs qdrant-haystack, which only the
#: examples environment has: it requires haystack-ai>=2.29, above the 2.20 floor the test matrix checks).
SKIPPED = 77


EXPORTED = {  # what a user may have exported: the examples must not use it unless asked with --live
    "JINA_API_KEY": "jina_exported_not_a_real_key",
    "JINA_API_BASE_URL": "http://127.0.0.1:9",
    "JINA_READER_BASE_URL": "http://127.0.0.1:9/r/",
    "JINA_SEARCH_BASE_URL": "http://127.0.0.1:9/s/",
}


def offline_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "JINA_EXAMPLES_LIVE"}
    env.update(EXPORTED)
    env["HAYSTACK_TELEMETRY_ENABLED"] = "False"  # no network, and no posthog flush delaying each exit
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_script(path: Path, *args: str, request_log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = offline_env()
    if request_log is not None:  # examples/_jina.py writes the emulator's requests there
        env["JINA_EXAMPLES_REQUEST_LOG"] = str(request_log)
    return subprocess.run(
        [sys.executable, str(path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def request_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example-requests")


@pytest.fixture(scope="module")
def outcomes(request_logs: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return run_script(path, request_log=request_logs / f"{path.stem}.jsonl")

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        return dict(zip((p.name for p in SCRIPTS), pool.map(run, SCRIPTS), strict=True))


def test_all_examples_exist() -> None:
    stems = [path.stem for path in SCRIPTS]
    assert stems == [
        "01_retrieval",
        "02_late_chunking",
        "03_images",
        "04_reader",
        "05_yaml",
        "06_async",
        "07_agent_web_research",
        "08_index_files",
        "09_hybrid_qdrant",
        "10_visual_rerank",
        "11_route_queries",
        "12_index_in_slices",
        "13_ray_shared_key",
        "14_omni_media",
        "15_batch_index",
    ]


@pytest.mark.parametrize("name", [path.name for path in SCRIPTS])
def test_example_runs_against_the_emulator(name: str, outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    completed = outcomes[name]
    report = f"{name} exited {completed.returncode}\n--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    if completed.returncode == SKIPPED:
        pytest.skip(completed.stdout.strip())
    assert completed.returncode == 0, report
    lines = completed.stdout.splitlines()
    assert lines, report
    assert "local JinaEmulator" in lines[0], report
    assert "--live" in lines[0], report
    assert "OK" in lines[-1], report
    for key in ("jina_emulator_key", EXPORTED["JINA_API_KEY"]):
        assert key not in completed.stdout + completed.stderr  # a key is never printed


@pytest.mark.parametrize("name", [path.name for path in SCRIPTS])
def test_example_requests_conform_to_the_spec(
    name: str, outcomes: dict[str, subprocess.CompletedProcess[str]], request_logs: Path
) -> None:
    """The examples run in their own processes, out of the per-test conformance check's reach: their log is checked."""
    if load_spec() is None:
        pytest.skip(MISSING_REASON)
    if outcomes[name].returncode == SKIPPED:
        pytest.skip(outcomes[name].stdout.strip())
    assert outcomes[name].returncode == 0
    lines = (request_logs / f"{Path(name).stem}.jsonl").read_text(encoding="utf-8").splitlines()
    sent = [json.loads(line) for line in lines]
    checked = [r for r in sent if r["path"].split("?", 1)[0] in CHECKED_PATHS]
    problems = [p for r in checked for p in problems_of(r["path"].split("?", 1)[0], r["body"].encode("utf-8"))]
    assert not problems, problems
    assert checked or name in READER_ONLY  # every other example embeds or ranks


def test_run_all_runs_the_selected_examples_and_summarises() -> None:
    completed = run_script(EXAMPLES / "run_all.py", "-q", "reader")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = completed.stdout.split("=== summary", 1)[1].splitlines()
    assert summary[1].split()[:2] == ["04_reader.py", "ok"]
    assert summary[-1].startswith("1/1 examples passed")


def test_live_without_a_key_refuses_before_any_request() -> None:
    env = {**offline_env(), "JINA_EXAMPLES_LIVE": "1"}
    del env["JINA_API_KEY"]
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS[0])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 1
    assert "export JINA_API_KEY" in completed.stderr


def test_run_all_fails_when_no_example_matches() -> None:
    completed = run_script(EXAMPLES / "run_all.py", "no-such-example")
    assert completed.returncode == 2
    assert "no example matches" in completed.stderr


@pytest.fixture
def jina_helper(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("_jina")


def test_helper_starts_the_emulator_over_whatever_is_exported_and_restores_the_environment(
    jina_helper: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JINA_EXAMPLES_LIVE", raising=False)
    monkeypatch.delenv("JINA_SEARCH_BASE_URL", raising=False)
    monkeypatch.setenv("JINA_API_KEY", EXPORTED["JINA_API_KEY"])
    monkeypatch.setenv("JINA_API_BASE_URL", EXPORTED["JINA_API_BASE_URL"])
    with jina_helper.jina(serve_page=True) as api:
        assert api.emulated
        for name, value in api.emulator.environment().items():
            assert os.environ[name] == value
        assert api.embedder_args() == api.ranker_args() == api.reader_args("search") == {}
        assert api.reader_args("ground") == {"base_url": api.emulator.ground_url}
        assert api.web_search_args() == {"base_url": api.emulator.search_url}
        assert api.fetcher_args() == {"base_url": api.emulator.reader_url}
        assert api.page_url.startswith("http://127.0.0.1:")
    assert os.environ["JINA_API_KEY"] == EXPORTED["JINA_API_KEY"]
    assert os.environ["JINA_API_BASE_URL"] == EXPORTED["JINA_API_BASE_URL"]
    assert "JINA_SEARCH_BASE_URL" not in os.environ
    assert capsys.readouterr().out.splitlines()[0] == jina_helper.EMULATOR_NOTICE


def test_helper_live_leaves_components_on_the_hosted_api(
    jina_helper: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JINA_API_KEY", "jina_test_not_a_real_key")
    monkeypatch.setenv("JINA_EXAMPLES_LIVE", "1")
    with jina_helper.jina(serve_page=True) as api:
        assert not api.emulated
        assert api.embedder_args() == api.ranker_args() == api.reader_args("read") == {}
        assert api.web_search_args() == api.fetcher_args() == {}
        assert api.requests_to("/v1/embeddings") is None
        assert api.page_url.startswith("https://")
    assert os.environ["JINA_API_KEY"] == "jina_test_not_a_real_key"
    assert capsys.readouterr().out.splitlines()[0] == jina_helper.HOSTED_NOTICE
