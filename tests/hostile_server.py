"""A tiny raw-socket HTTP server for tests: it does exactly what a test scripts, however badly that behaves."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

Behaviour = Callable[[socket.socket, bytes], None]


class HostileServer:
    """
    Listens on 127.0.0.1; each connection reads one request, then runs `behaviour(conn, request_bytes)`.

    `requests` counts the requests received. Used as a context manager; leaving it closes every socket,
    so clients stuck on it get EOF at once.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1/embeddings"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while not self._stopped.is_set():
                request = read_request(conn)
                if request is None:
                    return
                with self._lock:
                    self.requests += 1
                self.behaviour(conn, request)
        except OSError:
            pass
        finally:
            conn.close()

    def stopped(self) -> bool:
        return self._stopped.is_set()

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def request_body(request: bytes) -> Any:
    return json.loads(request.partition(b"\r\n\r\n")[2] or b"null")


def head(status: int = 200, length: int | None = None, extra: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def answer(body: bytes | str | Any, status: int = 200, extra: str = "") -> Behaviour:
    """Every request gets this answer (a JSON value, or raw bytes / text)."""
    payload = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()

    def behaviour(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(head(status, len(payload), extra) + payload)

    return behaviour


def embeddings_answer(make_vectors: Callable[[int], list[Any]], usage: Any = None) -> Behaviour:
    """A well-formed embeddings answer with one vector per input, vectors from `make_vectors(count)`."""

    def behaviour(conn: socket.socket, request: bytes) -> None:
        count = len(request_body(request)["input"])
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(make_vectors(count))]
        body = {"model": "m", "object": "list", "usage": usage or {"total_tokens": 1}, "data": data}
        payload = json.dumps(body).encode()
        conn.sendall(head(200, len(payload)) + payload)

    return behaviour


def trickle(pause: float, *, headers_too: bool = False, stopped: Callable[[], bool] = lambda: False) -> Behaviour:
    """One byte every `pause` seconds: of the body, or of the whole answer with `headers_too`."""
    payload = json.dumps({"data": [{"index": 0, "embedding": [0.5] * 200}]}).encode()

    def behaviour(conn: socket.socket, _request: bytes) -> None:
        answer_bytes = head(200, len(payload)) + payload
        start = 0 if headers_too else len(head(200, len(payload)))
        conn.sendall(answer_bytes[:start])
        for offset in range(start, len(answer_bytes)):
            if stopped():
                return
            conn.sendall(answer_bytes[offset : offset + 1])
            time.sleep(pause)

    return behaviour


def stall(stopped: Callable[[], bool]) -> Behaviour:
    """Never answer (until the server closes)."""

    def behaviour(_conn: socket.socket, _request: bytes) -> None:
        while not stopped():
            time.sleep(0.05)

    return behaviour
