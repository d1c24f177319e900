"""The emulator survives bad clients (issue 11, item 10)."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from haystack_integrations.testing.jina import JinaEmulator


def raw_exchange(emulator: JinaEmulator, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, return the status, headers and body of the answer."""
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            assert chunk, "the emulator closed the connection without answering"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        while len(body) < int(headers.get("Content-Length", 0)):
            body += conn.recv(65536)
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("length", ["abc", "-5", "99999999999999", "1e3"])
def test_bad_content_length_answers_400_with_a_reason(
    emulator: JinaEmulator, length: str, capfd: pytest.CaptureFixture[str]
) -> None:
    request = (
        f"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {emulator.api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    status, headers, body = raw_exchange(emulator, request)
    assert status == 400
    assert "Content-Length" in json.loads(body)["detail"] or "limit" in json.loads(body)["detail"]
    assert headers.get("Connection") == "close"
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_deeply_nested_json_answers_400(emulator: JinaEmulator, capfd: pytest.CaptureFixture[str]) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    response = requests.post(
        emulator.embeddings_url,
        data=nested,
        headers={"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_recorded_bodies_are_capped_by_bytes() -> None:
    with JinaEmulator(max_recorded_bytes=1_000_000) as emulator:
        for _ in range(4):
            requests.post(emulator.embeddings_url, data=b"x" * 600_000, timeout=10)
        kept = [len(r.body) for r in emulator.requests]
    assert sum(kept) <= 1_000_000
    assert kept == [600_000]  # the newest request is always kept


@pytest.mark.parametrize("kind", ["truncated", "reset"])
def test_broken_delivery_faults(emulator: JinaEmulator, kind: str) -> None:
    emulator.inject(kind)
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {"model": "jina-embeddings-v3", "input": ["hello"]}
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=5)
    assert requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=5).ok
