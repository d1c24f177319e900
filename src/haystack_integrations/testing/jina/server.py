"""JinaEmulator: a local HTTP server that speaks the Jina wire format. A test double, like `moto` for AWS.

It is not a model. It gives deterministic answers with the right shapes and useful properties
(similar texts get close vectors, relevant documents rank first), checks the Bearer key, validates
bodies like the real API, records every request, and injects faults on demand. Nothing in the
components knows about it: point a component's `base_url` at it.

    with JinaEmulator() as jina:
        embedder = JinaTextEmbedder(api_key=Secret.from_token(jina.api_key), base_url=jina.embeddings_url)
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from haystack_integrations.common.jina.ratelimit import Limits, parse_limits
from haystack_integrations.testing.jina.batch_jobs import BatchJobs
from haystack_integrations.testing.jina.limits import RateLimiter, reply_tokens

logger = logging.getLogger(__name__)

DEFAULT_API_KEY = "jina_emulator_key"
BALANCE_DETAIL = "Insufficient account balance. Top up your account at https://jina.ai/api-dashboard/key-manager."


#: The code Jina's OpenAPI error table gives each status, used when a route or fault names none.
DEFAULT_CODES = {
    401: "AUTH_INVALID_API_KEY",
    403: "AUTHZ_INSUFFICIENT_BALANCE",
    404: "RESOURCE_NOT_FOUND",
    409: "CONFLICT_RESOURCE_BUSY",
    429: "RATE_REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "SERVICE_TIMEOUT",
}

#: What the emulator serves (path, method, what), and the hosted endpoint each one stands for.
ENDPOINTS = (
    ("/v1/embeddings", "POST", "embeddings", "https://api.jina.ai/v1/embeddings"),
    ("/v1/rerank", "POST", "rerank", "https://api.jina.ai/v1/rerank"),
    ("/r/<url>", "GET", "reader: read a page", "https://r.jina.ai/<url>"),
    ("/r/", "POST", "reader: convert the file (html, pdf, file) in the body", "https://r.jina.ai/"),
    ("/s/<query>", "GET", "reader: search the corpus", "https://s.jina.ai/<query>"),
    ("/s/", "POST", "web search: the query in a JSON body", "https://s.jina.ai/"),
    ("/g/<statement>", "GET", "reader: ground a statement in the corpus", "https://g.jina.ai/<statement>"),
    ("/v1/classify", "POST", "classify: zero-shot or a trained classifier", "https://api.jina.ai/v1/classify"),
    ("/v1/train", "POST", "train or update a few-shot classifier", "https://api.jina.ai/v1/train"),
    ("/v1/classifiers", "GET", "list the key's classifiers", "https://api.jina.ai/v1/classifiers"),
    ("/v1/classifiers", "POST", "list the key's classifiers", "https://api.jina.ai/v1/classifiers"),
    ("/v1/classifiers/<id>", "DELETE", "delete a classifier", "https://api.jina.ai/v1/classifiers/<id>"),
    ("/v1/batch/embeddings", "POST", "submit a batch embedding job", "https://api.jina.ai/v1/batch/embeddings"),
    ("/v1/batch/<id>", "GET", "a batch job's status (+ /output, /errors)", "https://api.jina.ai/v1/batch/<id>"),
    ("/v1/batch/<id>", "DELETE", "cancel a batch job", "https://api.jina.ai/v1/batch/<id>"),
    ("/v1/batches", "GET", "recent batch jobs", "https://api.jina.ai/v1/batches"),
    ("/files/<id>/<file>", "GET", "a batch job's signed output or error file", "a BatchStatus output_url"),
)


class ApiError(Exception):
    """Raised by a route to answer with an HTTP error body shaped as Jina's (see `error_body`)."""

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        code: str | None = None,
        field: str = "body",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.code = code
        self.field = field  # where a 422 points (`errors[].field`)


def error_body(status: int, detail: str, code: str | None = None, field: str = "body") -> dict[str, Any]:
    """
    An error body as Jina's OpenAPI describes it.

    422: `HTTPValidationError`, `{"detail", "errors": [{"field", "message", "type"}]}` (plus a
    `request_id`, which that schema does not forbid). Others: `ErrorResponse`, `{"detail", "code",
    "request_id"}`; `code` falls back to the one Jina's error table gives the status.
    """
    request_id = secrets.token_hex(8)  # the spec's example request_id is 16 hex digits
    if status == 422:
        errors = [{"field": field, "message": detail, "type": "value_error"}]
        return {"detail": detail, "errors": errors, "request_id": request_id}
    body: dict[str, Any] = {"detail": detail}
    code = code or DEFAULT_CODES.get(status)
    if code:
        body["code"] = code
    body["request_id"] = request_id
    return body


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes / str sent as-is
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: how the answer goes on the wire: `None` normally, else a slow or broken delivery fault's kind
    delivery: str | None = None
    pace: float = 0.0


@dataclass
class RecordedRequest:
    """One request as the emulator received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), default)


FAULT_KINDS = (
    "status",
    "balance",
    "malformed",
    "wrong_count",
    "drop",
    "latency",
    "nan",
    "truncated",
    "reset",
    "trickle",
    "stall",
)
#: Kinds that change how a normal answer is delivered, not what it says.
_DELIVERY_KINDS = ("truncated", "trickle", "stall")


@dataclass
class Fault:
    """
    A fault applied to the next `times` requests that match.

    kinds: `status` (answer `status` with `detail`, `code` (default: Jina's code for that status) and
    optional `Retry-After`), `balance` (403 `AUTHZ_INSUFFICIENT_BALANCE`), `malformed` (200 with
    a body that is not JSON), `wrong_count` (a well-formed answer missing its last item), `drop`
    (close the connection without answering), `latency` (wait `delay` seconds, then answer normally),
    `nan` (the first vector, or sparse token weights, of an embeddings answer is all NaN), `reset`
    (abort the connection with a TCP reset), `truncated` (send the headers and half the body, then
    close), `trickle` (send the answer one byte every `delay` seconds), `stall` (send the headers,
    wait `delay` seconds, then the body).
    """

    kind: str
    times: int = 1
    path: str | None = None
    when: Callable[[RecordedRequest], bool] | None = None
    status: int = 500
    detail: str = "Injected fault"
    code: str | None = None
    retry_after: float | str | None = None  # a str is sent as it is (a date, or an odd value on purpose)
    delay: float = 0.0

    def matches(self, request: RecordedRequest) -> bool:
        if self.path is not None and not request.path.startswith(self.path):
            return False
        return self.when is None or bool(self.when(request))


def json_body(request: RecordedRequest) -> dict[str, Any]:
    """The request's JSON object, or the API's 400 / 422."""
    try:
        body = request.json
    except RecursionError:
        raise ApiError(400, "Request body is JSON nested too deeply.") from None
    except ValueError:
        raise ApiError(400, "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(422, "Request body must be a JSON object.")
    return body


Route = Callable[["JinaEmulator", RecordedRequest], Reply]
ROUTES: dict[tuple[str, str], Route] = {}


def route(method: str, path_prefix: str) -> Callable[[Route], Route]:
    """Register a handler for requests whose path starts with `path_prefix`."""

    def register(handler: Route) -> Route:
        ROUTES[(method, path_prefix)] = handler
        return handler

    return register


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of concurrent clients while the
    # accept thread waits for the GIL; each dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection (a timeout, a fail-fast run, a forked child) is normal here."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            logger.debug("Client %s dropped its connection: %r", client_address, error)
            return
        super().handle_error(request, client_address)


class JinaEmulator:
    """
    A Jina-compatible HTTP server on 127.0.0.1, started in a background thread.

    :param api_key: The key clients must send as `Authorization: Bearer <key>`. `None` accepts any key.
    :param latency: Seconds from a request's arrival to its answer (the work counts toward it).
    :param corpus: Documents (`{"url", "title", "content"}` dicts) the reader's search and ground
        endpoints work over.
    :param port: 0 picks a free port.
    :param max_recorded: How many requests `requests` keeps (the newest); bodies of images add up fast.
    :param max_recorded_bytes: How many body bytes `requests` keeps at most (the newest request is always kept).
    :param max_body_bytes: Larger request bodies are refused with 400, unread.
    :param limits: Rate limits to enforce per key on `/v1/` endpoints: `"free"`, `"tier1"`, `"tier2"`
        (Jina's published tiers) or `{"rpm": ..., "tpm": ..., "concurrency": ...}`. `None` enforces
        nothing. Either way answers carry `X-RateLimit-Remaining-Requests` / `-Tokens` (see `limits.py`).
    :param retry_after: Send `Retry-After` with 429s for the request and token limits.
    :param batch_delay: Seconds a Batch API job takes from submission to `completed` (see `batch_jobs.py`;
        `batches` holds the jobs and the controls that fail jobs or lines on demand).
    :param rate_window: Seconds per rate-limit window: a minute, as published. Shorter only for quick
        tests and benchmarks, which then must say so.
    """

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        latency: float = 0.0,
        corpus: list[dict[str, str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_recorded: int = 10_000,
        max_recorded_bytes: int = 64 * 1024 * 1024,
        max_body_bytes: int = 256 * 1024 * 1024,
        limits: str | dict[str, int] | Limits | None = None,
        retry_after: bool = True,
        rate_window: float = 60.0,
        rate_clock: str = "first-request",
        batch_delay: float = 0.0,
    ) -> None:
        _load_routes()
        self.api_key = api_key
        self.latency = latency
        self.corpus = list(corpus or [])
        self.requests: list[RecordedRequest] = []
        self.max_recorded = max_recorded
        self.max_recorded_bytes = max_recorded_bytes
        self.max_body_bytes = max_body_bytes
        self._recorded_bytes = 0
        self.faults: list[Fault] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.batches = BatchJobs(delay=batch_delay)
        self.rate = RateLimiter(parse_limits(limits), window=rate_window, retry_after=retry_after, clock=rate_clock)
        self._lock = threading.Lock()
        self._server = _Server((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> JinaEmulator:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="jina-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> JinaEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rpm_limit(self) -> int | None:
        """The requests per minute the `X-RateLimit-Remaining-Requests` header counts down from."""
        return self.rate.reported.rpm

    @property
    def tpm_limit(self) -> int | None:
        """The tokens per minute the `X-RateLimit-Remaining-Tokens` header counts down from."""
        return self.rate.reported.tpm

    # ------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def embeddings_url(self) -> str:
        return f"{self.url}/v1/embeddings"

    @property
    def rerank_url(self) -> str:
        return f"{self.url}/v1/rerank"

    @property
    def classify_url(self) -> str:
        return f"{self.url}/v1/classify"

    @property
    def train_url(self) -> str:
        return f"{self.url}/v1/train"

    @property
    def reader_url(self) -> str:
        """Prefix for the read endpoint (like `https://r.jina.ai/`)."""
        return f"{self.url}/r/"

    @property
    def search_url(self) -> str:
        """Prefix for the search endpoint (like `https://s.jina.ai/`)."""
        return f"{self.url}/s/"

    @property
    def ground_url(self) -> str:
        """Prefix for the grounding endpoint (like `https://g.jina.ai/`)."""
        return f"{self.url}/g/"

    def environment(self) -> dict[str, str]:
        """
        The variables that point unmodified components here: the key and the `JINA_*_BASE_URL` endpoints.

        The grounding endpoint has no variable; pass `base_url=emulator.ground_url` for it. Without a
        configured key (any key accepted) `JINA_API_KEY` is a placeholder.
        """
        return {
            "JINA_API_KEY": self.api_key if self.api_key is not None else "any-key-is-accepted",
            "JINA_API_BASE_URL": self.url,
            "JINA_READER_BASE_URL": self.reader_url,
            "JINA_SEARCH_BASE_URL": self.search_url,
        }

    def index(self) -> dict[str, Any]:
        """What `GET /` answers: the endpoints and the variables that target them (without the key)."""
        return {
            "service": "JinaEmulator: a local test double that speaks the Jina wire format, not Jina's models",
            "endpoints": [
                {"method": method, "path": path, "what": what, "stands_for": hosted}
                for path, method, what, hosted in ENDPOINTS
            ],
            "environment": {k: v for k, v in self.environment().items() if k != "JINA_API_KEY"},
        }

    # ------------------------------------------------------------------ test controls
    def inject(self, kind: str, *, times: int = 1, path: str | None = None, **options: Any) -> Fault:
        """Add a fault (see `Fault`) and return it. `path` limits it to requests under that path."""
        if kind not in FAULT_KINDS:
            msg = f"Unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
            raise ValueError(msg)
        if kind == "balance":  # Jina's answer when the account's balance is exhausted
            kind = "status"
            options = {"status": 403, "code": "AUTHZ_INSUFFICIENT_BALANCE", "detail": BALANCE_DETAIL, **options}
        fault = Fault(kind=kind, times=times, path=path, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def reset(self, idle_timeout: float = 5.0) -> None:
        """Wait (up to `idle_timeout`) for requests still being answered, then forget requests, faults, counters."""
        deadline = time.monotonic() + idle_timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.requests.clear()
            self._recorded_bytes = 0
            self.faults.clear()
            self.max_in_flight = 0
            self.connections = 0
        self.rate.reset()

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # ------------------------------------------------------------------ request handling
    def _take_fault(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(request):
                    fault.times -= 1
                    return fault
        return None

    def _check_auth(self, request: RecordedRequest, *, optional: bool) -> None:
        header = request.header("Authorization")
        if header is None and optional:
            return
        if header is None or not header.strip():
            raise ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'.", code="AUTH_MISSING_API_KEY")
        if not header.startswith("Bearer ") or not header[7:].strip():
            detail = "Invalid authorization format: use 'Authorization: Bearer <api-key>'."
            raise ApiError(401, detail, code="AUTH_INVALID_FORMAT")
        if self.api_key is not None and header[7:].strip() != self.api_key:
            raise ApiError(401, "Invalid API key.", code="AUTH_INVALID_API_KEY")

    def handle(self, request: RecordedRequest) -> Reply | None:
        """Answer one request; `None` means drop the connection."""
        arrived = time.monotonic()
        self._record(request)
        fault = self._take_fault(request)
        reply = self._reply(request, fault)
        limited = reply is not None and request.path.startswith("/v1/")
        key = _bearer_key(request)
        held = False
        if reply is not None and limited:
            reply, held = self._admit(key, reply)
        try:
            if reply is None or reply.status != 429 or held:  # a rate-limit refusal comes at once
                # Latency is the time from arrival to answer, like a real server's: the work counts toward it.
                delay = self.latency + (fault.delay if fault is not None and fault.kind == "latency" else 0.0)
                remaining = arrived + delay - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
            if reply is not None and limited:
                reply.headers.update(self.rate.headers(key))  # what is left when the answer leaves
        finally:
            if held:
                self.rate.finish(key)
        return reply

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._recorded_bytes += len(request.body)
            while len(self.requests) > 1 and (
                len(self.requests) > self.max_recorded or self._recorded_bytes > self.max_recorded_bytes
            ):
                self._recorded_bytes -= len(self.requests.pop(0).body)

    def _admit(self, key: str, reply: Reply) -> tuple[Reply, bool]:
        """Admit a successful answer under the key's rate limits (`True`: it holds a slot), or make it a 429."""
        if reply.status != 200 or not isinstance(reply.body, dict):  # errors and malformed-body faults
            return reply, False
        refusal = self.rate.admit(key, reply_tokens(reply.body))
        if refusal is None:
            return reply, True
        headers = {} if refusal.retry_after is None else {"Retry-After": str(refusal.retry_after)}
        return Reply(429, error_body(429, refusal.detail, refusal.code), headers=headers), False

    def _reply(self, request: RecordedRequest, fault: Fault | None) -> Reply | None:
        try:
            reply = self._answer(request, fault)
        except Exception as error:  # an emulator bug or a body it cannot digest: answer, never drop silently
            return Reply(500, {"detail": f"Emulator error: {type(error).__name__}: {str(error)[:200]}"})
        if reply is not None and fault is not None and fault.kind in _DELIVERY_KINDS:
            reply.delivery, reply.pace = fault.kind, fault.delay
        return reply

    def _answer(self, request: RecordedRequest, fault: Fault | None) -> Reply | None:
        if fault is not None and fault.kind == "drop":
            return None
        if fault is not None and fault.kind == "reset":
            return Reply(delivery="reset")
        if fault is not None and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": _header_number(fault.retry_after)}
            return Reply(fault.status, error_body(fault.status, fault.detail, fault.code), headers=headers)
        if fault is not None and fault.kind == "malformed":
            return Reply(200, b"<html>502 Bad Gateway</html>")
        if request.method == "GET" and request.path.split("?", 1)[0] == "/":
            return Reply(200, self.index())
        handler = self._find_route(request)
        if handler is None:
            return Reply(404, error_body(404, f"Not found: {request.method} {request.path}"))
        try:
            # Reading and grounding work without a key (at lower rate limits); search requires one. A batch
            # job's signed file URL (/files/) carries its own credential.
            self._check_auth(request, optional=request.path.startswith(("/r/", "/g/", "/shots/", "/files/")))
            reply = handler(self, request)
        except ApiError as error:
            body = error_body(error.status, error.detail, error.code, error.field)
            return Reply(error.status, body, headers=error.headers)
        if fault is not None and fault.kind == "wrong_count" and isinstance(reply.body, dict):
            for key in ("data", "results"):
                if isinstance(reply.body.get(key), list) and reply.body[key]:
                    reply.body[key] = reply.body[key][:-1]
        if fault is not None and fault.kind == "nan" and isinstance(reply.body, dict) and reply.body.get("data"):
            first = reply.body["data"][0]
            first["embedding"] = _nan_like(first.get("embedding"))
        return reply

    def _find_route(self, request: RecordedRequest) -> Route | None:
        path = request.path.split("?", 1)[0]
        for (method, prefix), handler in ROUTES.items():
            if method == request.method and path.startswith(prefix):
                return handler
        return None


def _bearer_key(request: RecordedRequest) -> str:
    auth = request.header("Authorization") or ""
    return auth[7:].strip() if auth.startswith("Bearer ") else ""


def _make_handler(emulator: JinaEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
        disable_nagle_algorithm = True  # else small answers on a reused connection wait ~40 ms for delayed ACKs

        def setup(self) -> None:
            super().setup()
            with emulator._lock:
                emulator.connections += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `emulator.requests` instead

        def _serve(self) -> None:
            length, problem = _content_length(self.headers.get("Content-Length"), emulator.max_body_bytes)
            if problem:  # the body cannot be read, so the connection cannot be reused: answer, then close
                self.close_connection = True
                self._send(Reply(400, {"detail": problem}, headers={"Connection": "close"}))
                return
            body = self.rfile.read(length) if length else b""
            request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
            with emulator._lock:
                emulator.in_flight += 1
                emulator.max_in_flight = max(emulator.max_in_flight, emulator.in_flight)
            try:
                reply = emulator.handle(request)
            finally:
                with emulator._lock:
                    emulator.in_flight -= 1
            if reply is None:
                self.close_connection = True
                return
            if reply.delivery == "reset":
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()  # closed before socketserver's shutdown could send a FIN: a reset
                return
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            if isinstance(reply.body, bytes):
                payload = reply.body
            elif isinstance(reply.body, str):
                payload = reply.body.encode()
            else:
                payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self._write_body(reply, payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout); nothing to tell it

        def _write_body(self, reply: Reply, payload: bytes) -> None:
            if reply.delivery == "truncated":
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            if reply.delivery == "stall":
                self.wfile.flush()
                time.sleep(reply.pace)
            if reply.delivery == "trickle":
                for offset in range(len(payload)):
                    self.wfile.write(payload[offset : offset + 1])
                    self.wfile.flush()
                    time.sleep(reply.pace)
                return
            self.wfile.write(payload)

        do_GET = _serve  # noqa: N815 (http.server's naming)
        do_POST = _serve  # noqa: N815
        do_DELETE = _serve  # noqa: N815

    return Handler


def _content_length(value: str | None, limit: int) -> tuple[int, str]:
    """The declared body length, or a reason to refuse it."""
    if value is None or value == "":
        return 0, ""
    if not value.strip().isdigit():
        return 0, f"Invalid Content-Length header: {value[:40]!r} is not a non-negative integer."
    length = int(value)
    if length > limit:
        return 0, f"Request body of {length} bytes is over the emulator's limit of {limit} bytes."
    return length, ""


def _nan_like(embedding: Any) -> Any:
    """An embedding of the same shape whose values are all NaN (base64 float32 or a JSON list)."""
    if isinstance(embedding, str):
        count = len(base64.b64decode(embedding)) // 4
        return base64.b64encode(struct.pack(f"<{count}f", *([float("nan")] * count))).decode("ascii")
    if isinstance(embedding, list):
        return [float("nan")] * len(embedding)
    if isinstance(embedding, dict):  # sparse (elser-v2): token -> weight
        return dict.fromkeys(embedding, float("nan"))
    return embedding


def _load_routes() -> None:
    """Import the modules that register routes (kept separate: one file per endpoint family)."""
    import importlib
    import pkgutil

    from haystack_integrations.testing import jina as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("routes_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def _header_number(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"
