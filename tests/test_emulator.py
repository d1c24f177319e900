"""The emulator's own contract: auth, routing, recording, faults, command line."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests

from haystack_integrations.testing.jina import DEFAULT_API_KEY, JinaEmulator

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


def test_command_line_serves_until_terminated() -> None:
    command = [sys.executable, "-m", "haystack_integrations.testing.jina", "--port", "0", "--latency", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "test double" in line
        url = line.rsplit(" ", 1)[-1].strip()
        response = requests.post(f"{url}/v1/embeddings", json=BODY, headers=AUTH, timeout=5)
        assert len(response.json()["data"]) == 1
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
