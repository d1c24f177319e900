"""The emulator's own contract: auth, routing, recording, faults, command line."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests

from haystack_integrations.testing.jina import DEFAULT_API_KEY, JinaEmulator
from haystack_integrations.testing.jina.routes_reader import SHOTS_PATH
from haystack_integrations.testing.jina.server import ROUTES

BODY = {"model": "jina-embeddings-v3", "input": ["hi"]}
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


def test_wrong_or_missing_key_is_401_without_echoing_it(emulator: JinaEmulator) -> None:
    wrong = requests.post(emulator.embeddings_url, json=BODY, headers={"Authorization": "Bearer sk-guess"}, timeout=5)
    missing = requests.post(emulator.embeddings_url, json=BODY, timeout=5)
    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert "sk-guess" not in wrong.text
    assert "detail" in missing.json()


def test_any_key_accepted_when_none_configured() -> None:
    with JinaEmulator(api_key=None) as open_emulator:
        response = requests.post(
            open_emulator.embeddings_url, json=BODY, headers={"Authorization": "Bearer x"}, timeout=5
        )
        assert response.status_code == 200


def test_unknown_path_is_404(emulator: JinaEmulator) -> None:
    assert requests.post(f"{emulator.url}/v1/nothing", json=BODY, headers=AUTH, timeout=5).status_code == 404


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_body_that_is_not_json_is_400(emulator: JinaEmulator) -> None:
    response = requests.post(emulator.embeddings_url, data=b"{nope", headers=AUTH, timeout=5)
    assert response.status_code == 400


def test_a_burst_of_connections_is_queued_before_it_is_accepted() -> None:
    """Concurrent clients must not wait for SYN retransmits (1 s each) when the accept thread is slow."""
    idle = JinaEmulator()  # listening, not yet accepting
    address = urlsplit(idle.url)
    with contextlib.ExitStack() as stack:
        stack.callback(idle.stop)
        for _ in range(32):
            sock = stack.enter_context(socket.socket())
            sock.settimeout(0.5)
            sock.connect((address.hostname, address.port))  # times out once the listen backlog is full


def test_records_requests_up_to_a_cap() -> None:
    with JinaEmulator(max_recorded=3) as small:
        for i in range(5):
            requests.post(small.embeddings_url, json={**BODY, "input": [f"n{i}"]}, headers=AUTH, timeout=5)
        assert [r.json["input"] for r in small.requests] == [["n2"], ["n3"], ["n4"]]


def test_fault_targets_matching_requests_only(emulator: JinaEmulator) -> None:
    emulator.inject("status", status=503, times=1, when=lambda r: b"poison" in r.body)
    ok = requests.post(emulator.embeddings_url, json=BODY, headers=AUTH, timeout=5)
    bad = requests.post(emulator.embeddings_url, json={**BODY, "input": ["poison"]}, headers=AUTH, timeout=5)
    again = requests.post(emulator.embeddings_url, json={**BODY, "input": ["poison"]}, headers=AUTH, timeout=5)
    assert (ok.status_code, bad.status_code, again.status_code) == (200, 503, 200)


def test_unknown_fault_kind_is_refused(emulator: JinaEmulator) -> None:
    with pytest.raises(ValueError, match="Unknown fault kind"):
        emulator.inject("explode")


CLI = [sys.executable, "-m", "haystack_integrations.testing.jina"]


def test_command_line_serves_until_terminated_and_prints_ready_to_paste_exports() -> None:
    process = subprocess.Popen([*CLI, "--port", "0", "--latency", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "test double" in line
        url = line.rsplit(" ", 1)[-1].strip()
        exports = {}
        while len(exports) < 4:
            printed = process.stdout.readline()
            if printed.startswith("export "):
                name, value = printed[len("export ") :].strip().split("=", 1)
                exports[name] = value
        assert exports == {
            "JINA_API_KEY": DEFAULT_API_KEY,
            "JINA_API_BASE_URL": url,
            "JINA_READER_BASE_URL": f"{url}/r/",
            "JINA_SEARCH_BASE_URL": f"{url}/s/",
        }
        response = requests.post(f"{url}/v1/embeddings", json=BODY, headers=AUTH, timeout=5)
        assert len(response.json()["data"]) == 1
        index = requests.get(f"{url}/", timeout=5).json()
        assert [e["path"] for e in index["endpoints"]] == [
            "/v1/embeddings",
            "/v1/rerank",
            "/r/<url>",
            "/r/",
            "/s/<query>",
            "/s/",
            "/g/<statement>",
            "/v1/classify",
            "/v1/train",
            "/v1/classifiers",
            "/v1/classifiers",
            "/v1/classifiers/<id>",
            "/v1/batch/embeddings",
            "/v1/batch/<id>",
            "/v1/batch/<id>",
            "/v1/batches",
            "/files/<id>/<file>",
        ]
        assert DEFAULT_API_KEY not in json.dumps(index)
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize("quiet", [False, True])
def test_command_line_logs_one_line_per_request_unless_quiet(quiet: bool) -> None:
    arguments = [*CLI, "--port", "0", *(["--quiet"] if quiet else [])]
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        assert requests.post(f"{url}/v1/embeddings", json=BODY, headers=AUTH, timeout=5).status_code == 200
        assert requests.post(f"{url}/v1/rerank", json={}, headers=AUTH, timeout=5).status_code == 400
        if not quiet:  # the lines are written before the answers are sent
            first, second = process.stderr.readline().split(), process.stderr.readline().split()
            assert first[1:4] == ["POST", "/v1/embeddings", "200"] and first[-1] == "ms"
            assert second[1:4] == ["POST", "/v1/rerank", "400"]
            assert float(first[4]) >= 0
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert process.stderr.read() == ""  # nothing more, and nothing at all when quiet


def test_command_line_help_lists_the_endpoints() -> None:
    completed = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60, check=True)
    for path in ("/v1/embeddings", "/v1/rerank", "/r/<url>", "/s/<query>", "/g/<statement>"):
        assert path in completed.stdout
    assert "POST /s/ " in completed.stdout
    assert "POST /r/ " in completed.stdout
    assert "JINA_API_BASE_URL" in completed.stdout


def test_command_line_on_a_busy_port_says_so_in_one_line(emulator: JinaEmulator) -> None:
    port = str(urlsplit(emulator.url).port)
    completed = subprocess.run([*CLI, "--port", port], capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_environment_points_default_components_at_the_emulator(
    emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haystack_integrations.components.embedders.jina import JinaTextEmbedder

    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    assert JinaTextEmbedder().run("hello")["embedding"]
    assert [r.path for r in emulator.requests] == ["/v1/embeddings"]


def test_index_lists_every_route_but_its_own_screenshots(emulator: JinaEmulator) -> None:
    listed = {
        (e["method"], e["path"].split("<", 1)[0])
        for e in requests.get(f"{emulator.url}/", timeout=5).json()["endpoints"]
    }
    served = {key for key in ROUTES if key[1] != SHOTS_PATH}  # screenshots the emulator itself serves
    assert served == listed
