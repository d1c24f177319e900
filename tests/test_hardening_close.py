"""`close()` while calls are in flight: their retries keep the key they started with (issue 28, item 2)."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from haystack.utils import Secret
from hostile_server import HostileServer, head, request_body

from haystack_integrations.components.embedders.jina import JinaTextEmbedder

KEY = "jina_close_while_in_flight_0123456789"
CALLS = 20


class Recorder:
    """503 with `Retry-After: 1` to the first `CALLS` requests, then embeddings; keeps every Authorization header."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, conn: socket.socket, request: bytes) -> None:
        header = request.partition(b"\r\n\r\n")[0].decode("latin-1")
        auth = next(
            (
                line.split(":", 1)[1].strip()
                for line in header.split("\r\n")
                if line.lower().startswith("authorization:")
            ),
            "",
        )
        with self.lock:
            self.authorizations.append(auth)
            first_round = len(self.authorizations) <= CALLS
        if first_round:
            payload = b'{"detail": "busy", "code": "SERVICE_UNAVAILABLE", "request_id": "0"}'
            conn.sendall(head(503, len(payload), "Retry-After: 1\r\n") + payload)
            return
        count = len(request_body(request)["input"])
        data = [{"object": "embedding", "index": i, "embedding": [0.6, 0.8]} for i in range(count)]
        payload = json.dumps({"model": "m", "object": "list", "usage": {"total_tokens": 1}, "data": data}).encode()
        conn.sendall(head(200, len(payload)) + payload)


def test_calls_in_backoff_keep_their_key_across_close() -> None:
    recorder = Recorder()
    with HostileServer(recorder) as server:
        embedder = JinaTextEmbedder(api_key=Secret.from_token(KEY), base_url=server.url, max_retries=3)
        embedder.warm_up()
        with ThreadPoolExecutor(CALLS) as pool:
            futures = [pool.submit(embedder.run, f"text {i}") for i in range(CALLS)]
            deadline = time.monotonic() + 30
            while len(recorder.authorizations) < CALLS and time.monotonic() < deadline:
                time.sleep(0.01)
            embedder.close()  # every call is waiting out its Retry-After now
            results = [future.result(timeout=60) for future in futures]
        assert all(result["embedding"] == [0.6, 0.8] for result in results)
        assert embedder.run("after close")["embedding"] == [0.6, 0.8]  # a call after close() opens again
    assert len(recorder.authorizations) == 2 * CALLS + 1
    assert set(recorder.authorizations) == {f"Bearer {KEY}"}


def test_close_while_an_answer_is_being_read_is_retried_not_a_runtime_error() -> None:
    reading = threading.Event()
    answers = iter(range(1000))

    def slow_then_fine(conn: socket.socket, request: bytes) -> None:
        data = [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}]
        payload = json.dumps({"model": "m", "object": "list", "usage": {"total_tokens": 1}, "data": data}).encode()
        if next(answers) == 0:  # the first answer stops half-way until the client is closed
            conn.sendall(head(200, len(payload)) + payload[:10])
            reading.set()
            time.sleep(1.0)
            return
        conn.sendall(head(200, len(payload)) + payload)

    with HostileServer(slow_then_fine) as server:
        embedder = JinaTextEmbedder(api_key=Secret.from_token(KEY), base_url=server.url, max_retries=2)
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(embedder.run, "text")
            assert reading.wait(30)
            embedder.close()  # aiohttp raised RuntimeError("Connection closed.") to the caller
            assert future.result(timeout=60)["embedding"] == [0.6, 0.8]
