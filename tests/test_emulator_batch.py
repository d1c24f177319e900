"""The emulator's Batch API (`/v1/batch/*`, `/v1/batches`), spoken to over HTTP like the real API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from page_server import PageServer

from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.routes_batch import MAX_INLINE_INPUTS

NANO = "jina-embeddings-v5-text-nano"


def lines(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"custom_id": f"req-{i}", "body": {"input": f"text number {i} about bees"}} for i in range(start, count)]


def call(emulator: JinaEmulator, method: str, path: str, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    return requests.request(method, emulator.url + path, json=body, headers=headers, timeout=10)


def submit(emulator: JinaEmulator, **body: Any) -> dict[str, Any]:
    answer = call(emulator, "POST", "/v1/batch/embeddings", {"model": NANO, "input": lines(20), **body})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def completed(emulator: JinaEmulator, **body: Any) -> dict[str, Any]:
    """A submitted job once it has completed (its files are made in the background, even with no delay)."""
    job = submit(emulator, **body)
    assert wait_for(emulator, job["batch_id"], "completed")["status"] == "completed"
    return job


def wait_for(emulator: JinaEmulator, batch_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = call(emulator, "GET", f"/v1/batch/{batch_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            return body  # type: ignore[no-any-return]
        time.sleep(0.02)


@pytest.fixture
def slow() -> Iterator[JinaEmulator]:
    with JinaEmulator(batch_delay=0.6) as emulator:
        yield emulator


def test_a_job_moves_from_pending_through_processing_to_completed(slow: JinaEmulator) -> None:
    created = submit(slow)
    assert created["status"] == "pending"
    assert created["stats"] == {"total": 20, "completed": 0, "failed": 0, "total_tokens": 0}
    assert created["expires_at"] > created["created_at"]
    seen = {created["status"]}
    deadline = time.monotonic() + 10
    while "completed" not in seen and time.monotonic() < deadline:
        seen.add(call(slow, "GET", f"/v1/batch/{created['batch_id']}").json()["status"])
        time.sleep(0.02)
    assert seen == {"pending", "processing", "completed"}
    done = call(slow, "GET", f"/v1/batch/{created['batch_id']}").json()
    assert done["stats"]["completed"] == 20
    assert done["output_url"] and done["completed_at"]


def test_output_is_in_the_openai_shape_shuffled_and_matches_v1_embeddings(emulator: JinaEmulator) -> None:
    job = completed(emulator, dimensions=32, task="retrieval")
    output = call(emulator, "GET", f"/v1/batch/{job['batch_id']}/output").text.splitlines()
    parsed = [json.loads(line) for line in output]
    ids = [line["custom_id"] for line in parsed]
    assert sorted(ids) == sorted(line["custom_id"] for line in lines(20))
    assert ids != [line["custom_id"] for line in lines(20)]  # shuffled: the spec promises no order
    first = parsed[0]
    assert first["response"]["status_code"] == 200
    vector = first["response"]["body"]["data"][0]["embedding"]
    assert len(vector) == 32
    text = f"text number {first['custom_id'].removeprefix('req-')} about bees"
    direct = call(
        emulator,
        "POST",
        "/v1/embeddings",
        {"model": NANO, "input": [text], "dimensions": 32, "task": "retrieval.passage"},
    ).json()["data"][0]["embedding"]
    assert vector == pytest.approx(direct, abs=1e-6)


def test_lines_fail_on_demand_and_go_to_the_error_file(emulator: JinaEmulator) -> None:
    emulator.batches.fail_lines = 0.25
    try:
        job = completed(emulator)
    finally:
        emulator.batches.fail_lines = 0.0
    status = call(emulator, "GET", f"/v1/batch/{job['batch_id']}").json()
    output = call(emulator, "GET", f"/v1/batch/{job['batch_id']}/output").text.splitlines()
    errors = [
        json.loads(line) for line in call(emulator, "GET", f"/v1/batch/{job['batch_id']}/errors").text.splitlines()
    ]
    assert status["stats"]["failed"] == len(errors) > 0
    assert status["stats"]["completed"] == len(output) == 20 - len(errors)
    assert all(error["error"]["message"] for error in errors)


@pytest.mark.parametrize("status", ["failed", "expired", "cancelled"])
def test_a_job_ends_failed_expired_or_cancelled_on_demand(emulator: JinaEmulator, status: str) -> None:
    emulator.batches.end_next(status, error="boom" if status == "failed" else None)
    job = submit(emulator)
    ended = wait_for(emulator, job["batch_id"], status)
    assert ended["status"] == status
    assert ended["output_url"] is None
    assert call(emulator, "GET", f"/v1/batch/{job['batch_id']}/output").status_code == 409


def test_cancel_lists_and_not_found(slow: JinaEmulator) -> None:
    job = submit(slow)
    cancelled = call(slow, "DELETE", f"/v1/batch/{job['batch_id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert call(slow, "DELETE", f"/v1/batch/{job['batch_id']}").status_code == 409
    other = submit(slow)
    listed = call(slow, "GET", "/v1/batches?limit=1").json()
    assert [item["batch_id"] for item in listed] == [other["batch_id"]]
    assert len(call(slow, "GET", "/v1/batches").json()) == 2
    missing = call(slow, "GET", "/v1/batch/batch_nope")
    assert missing.status_code == 404
    assert "batch_nope" in missing.json()["detail"]


def test_signed_urls_need_no_key_but_their_signature(emulator: JinaEmulator) -> None:
    job = completed(emulator)
    signed = call(emulator, "GET", f"/v1/batch/{job['batch_id']}").json()["output_url"]
    assert requests.get(signed, timeout=10).status_code == 200
    assert requests.get(signed.replace("signature=", "signature=x"), timeout=10).status_code == 403
    emulator.batches.redirect_downloads = True
    try:
        moved = call(emulator, "GET", f"/v1/batch/{job['batch_id']}/output")
    finally:
        emulator.batches.redirect_downloads = False
    assert moved.history and moved.history[0].status_code == 302
    assert moved.status_code == 200
    assert len(moved.text.splitlines()) == 20


class _Hooks(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012 (one test's server)

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_webhook_gets_the_status_when_the_job_completes(slow: JinaEmulator) -> None:
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    try:
        job = submit(slow, webhook_url=f"http://127.0.0.1:{hooks.server_address[1]}/hook")
        deadline = time.monotonic() + 10
        while not _Hooks.received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        hooks.shutdown()
    assert [(body["batch_id"], body["status"]) for body in _Hooks.received] == [(job["batch_id"], "completed")]


@pytest.mark.nonconforming
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "jina-embeddings-v3", "input": lines(2)}, "model"),
        ({"model": NANO}, "input"),
        ({"model": NANO, "input": lines(2), "input_url": "http://127.0.0.1:9/x.jsonl"}, "input"),
        ({"model": NANO, "input": lines(MAX_INLINE_INPUTS + 1)}, "input"),
        ({"model": NANO, "input": [{"custom_id": "a", "body": {"input": ""}}]}, "input.0"),
        ({"model": NANO, "input": [*lines(1), *lines(1)]}, "input.1"),
        ({"model": NANO, "input": lines(1), "task": "retrieval.passage"}, "task"),
        ({"model": NANO, "input": lines(1), "dimensions": 769}, "dimensions"),
        ({"model": NANO, "input": lines(1), "embedding_type": "base64"}, "embedding_type"),
        ({"model": NANO, "input_url": "gs://bucket/in.jsonl"}, "input_url"),
        ({"model": NANO, "input": lines(1), "webhook_url": "ftp://x"}, "webhook_url"),
    ],
)
def test_requests_are_validated_like_the_spec(emulator: JinaEmulator, body: dict[str, Any], field: str) -> None:
    answer = call(emulator, "POST", "/v1/batch/embeddings", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_input_url_is_read_over_http(emulator: JinaEmulator, pages: PageServer) -> None:
    url = pages.add("/in.jsonl", "".join(json.dumps(line) + "\n" for line in lines(12)), content_type="text/plain")
    answer = call(emulator, "POST", "/v1/batch/embeddings", {"model": NANO, "input_url": url})
    assert answer.status_code == 200, answer.text
    assert answer.json()["stats"]["total"] == 12


def test_the_command_line_takes_the_batch_delay(capsys: pytest.CaptureFixture[str]) -> None:
    from haystack_integrations.testing.jina.__main__ import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--batch-delay" in capsys.readouterr().out
