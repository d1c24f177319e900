"""The one HTTP client every Jina component uses.

`JinaClient` owns a keep-alive `requests.Session` (opened by `open`, or by the first request; shared by
all threads of the component), the Bearer auth header, timeouts, retries with backoff, the mapping from
HTTP errors to `JinaError` subclasses, and a bound on requests in flight. Pacing to the API's rate limits
is shared by all clients of a key and host (`ratelimit.py`).

Its state is its settings (the key as a `Secret`, timeouts, limits). The key is resolved and the session
opened only by `open`; copies, pickles and forked children start with no session, lock or counter of
the original (see `fork.py`).
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import requests
from haystack.utils import Secret

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.cancellation import JinaCancelledError, current_token, wait_for_slot
from haystack_integrations.common.jina.deadline import WatchedAdapter, watch
from haystack_integrations.common.jina.endpoints import (
    called_endpoint,
    not_found_hint,
    overrides,
    resolve_url,
    without_query,
)
from haystack_integrations.common.jina.errors import (
    JinaConnectionError,
    JinaError,
    JinaInvalidKeyError,
    JinaMalformedResponseError,
    JinaMissingKeyError,
    JinaTimeoutError,
    error_for_status,
    retry_clock,
)
from haystack_integrations.common.jina.ratelimit import MAX_RETRY_AFTER, Limits, Pacer, limiter_for, parse_limits

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
#: The Free tier's limit of concurrent requests (Jina's OpenAPI `info.description`); paid tiers allow 50 / 500.
DEFAULT_MAX_CONCURRENCY = 5
#: Embeddings and rerank are idempotent, so a failure on Jina's side (500 INTERNAL_ERROR, 503
#: SERVICE_UNAVAILABLE, 504 SERVICE_TIMEOUT, a gateway's 502) is worth another try, like a 429.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: The longest `Retry-After` the client sleeps; a longer one raises at once, saying when to retry.
#: The largest answer (after decompression) the client reads; a larger one is refused while streaming.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
_READ_CHUNK = 64 * 1024

try:
    _VERSION = version("jina-haystack")
except PackageNotFoundError:  # running from a source tree
    _VERSION = "unknown"
USER_AGENT = f"jina-haystack/{_VERSION}"


def resolve_timeout(timeout: float | None) -> float:
    """The explicit value, else `JINA_TIMEOUT`, else 60 seconds; a positive, finite number of seconds."""
    name, raw = ("timeout", timeout) if timeout is not None else ("JINA_TIMEOUT", os.environ.get("JINA_TIMEOUT"))
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        msg = f"{name} must be a positive number of seconds, got {raw!r}"
        raise ValueError(msg)
    return value


def resolve_max_retries(max_retries: int | None) -> int:
    """The explicit value, else `JINA_MAX_RETRIES`, else 5; a whole number >= 0."""
    raw: float | str | None = max_retries
    name = "max_retries"
    if raw is None:
        name, raw = "JINA_MAX_RETRIES", os.environ.get("JINA_MAX_RETRIES")
    if raw is None:
        return DEFAULT_MAX_RETRIES
    try:
        if isinstance(raw, float) and raw.is_integer():  # 2.0 from a YAML or JSON file
            raw = int(raw)
        value = int(raw) if not isinstance(raw, bool | float) else -1
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        msg = f"{name} must be a whole number >= 0, got {raw!r}"
        raise ValueError(msg)
    return value


def clean_api_key(value: str) -> str:
    """
    The key without surrounding whitespace (a key file's trailing newline), checked to fit in a header.

    :raises JinaInvalidKeyError: The key has a character no HTTP header can carry. The message says where,
        never what the key is.
    """
    key = value.strip()
    for position, character in enumerate(key, start=1):
        if not 0x21 <= ord(character) <= 0x7E:  # Jina keys are printable ASCII without spaces
            msg = (
                f"The Jina API key has a character that cannot be sent in an HTTP header (character {position} "
                f"of {len(key)}: a space, control or non-ASCII character). Check the key for stray quotes, "
                "spaces or line breaks."
            )
            raise JinaInvalidKeyError(msg)
    return key


def resolve_api_key(api_key: Secret) -> str:
    """Resolve the Secret (at `JinaClient.open`); a missing key raises `JinaMissingKeyError` naming the variable."""
    try:
        value = api_key.resolve_value()
    except ValueError:
        value = None
    if isinstance(value, str):
        value = clean_api_key(value)
    if not value:
        env_vars = getattr(api_key, "_env_vars", None) or getattr(api_key, "env_vars", None)
        where = f"set the environment variable {' or '.join(env_vars)}" if env_vars else "pass a non-empty key"
        msg = f"No Jina API key found: {where}, or pass api_key=Secret.from_env_var(...)."
        raise JinaMissingKeyError(msg)
    return str(value)


class ConcurrencyLimit:
    """Bounds the requests in flight through one client to its `max_concurrency`.

    The server's own limits (concurrency, requests and tokens per minute) are paced by the
    `RateLimiter` shared by every client of the same key and host (`ratelimit.py`).
    """

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            msg = f"max_concurrency must be at least 1, got {maximum}"
            raise ValueError(msg)
        self.maximum = maximum
        self.in_flight = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        """Wait for a slot; a cancelled call (see `cancellation`) stops waiting with `JinaCancelledError`."""
        with self._cond:
            while self.in_flight >= self.maximum:
                try:
                    wait_for_slot(self._cond, None, "a request")
                except JinaCancelledError:
                    self._cond.notify()  # pass on a wake-up this waiter may have taken
                    raise
            self.in_flight += 1

    def release(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify()


class JinaClient:
    """
    A small, thread-safe client for the Jina HTTP APIs.

    :param api_key: The API key, as a Haystack `Secret`. It is resolved by `open`, not here.
    :param timeout: Seconds to wait for an answer; `None` reads `JINA_TIMEOUT`, else 60.
    :param max_retries: Retries on 429, 500, 502, 503, 504 and connection errors; `None` reads
        `JINA_MAX_RETRIES`, else 5.
    :param max_concurrency: Upper bound of requests in flight at once through this client.
    :param rate_limits: The key's known rate limits, if any: a tier (`"free"`, `"tier1"`, `"tier2"`) or
        `{"rpm", "tpm", "concurrency"}`. `None` reads `JINA_RATE_LIMITS`, else learns them from answers.
    """

    backoff_base = 0.5
    backoff_cap = 20.0
    #: answers larger than this (decompressed) are refused while streaming, before they fill memory
    max_response_bytes = MAX_RESPONSE_BYTES

    def __init__(
        self,
        api_key: Secret,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        rate_limits: str | Mapping[str, int] | Limits | None = None,
    ) -> None:
        self._api_key = api_key
        self.timeout = resolve_timeout(timeout)
        self.max_retries = resolve_max_retries(max_retries)
        if self.max_retries < 0:
            msg = f"max_retries must be >= 0, got {self.max_retries}"
            raise ValueError(msg)
        self.max_concurrency = max_concurrency
        self.rate_limits = parse_limits(rate_limits)
        self._start_fresh()
        fork.track(self)

    # Runtime state: never copied, pickled or inherited by a forked child.
    _RUNTIME = ("limit", "_session", "_lock", "_environment")

    def _start_fresh(self) -> None:
        """No session, a new lock and a new concurrency limit (for a new client, a copy, a forked child)."""
        self.limit = ConcurrencyLimit(self.max_concurrency)
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._environment: dict[str, dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """The settings only: copy.deepcopy and pickle give a client with its own session, lock and limit."""
        return {key: value for key, value in self.__dict__.items() if key not in self._RUNTIME}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start_fresh()
        fork.track(self)

    def _after_fork_in_child(self) -> None:
        # Drop, never close: the sockets are shared with the parent, which may be using them right now.
        self._start_fresh()

    def __repr__(self) -> str:
        settings = f"timeout={self.timeout}, max_retries={self.max_retries}, max_concurrency={self.limit.maximum}"
        return f"JinaClient({settings})"

    def open(self) -> requests.Session:
        """
        Resolve the key, check the endpoint variables and open the keep-alive session; idempotent.

        :raises JinaMissingKeyError: If the key cannot be resolved.
        :raises ValueError: If an endpoint variable (see `endpoints.py`) is not an absolute http(s) URL.
        """
        with self._lock:
            if self._session is None:
                auth_header = f"Bearer {resolve_api_key(self._api_key)}"
                overrides()  # a bad JINA_*_BASE_URL fails here, at warm-up, not in the middle of a run
                session = requests.Session()
                # requests re-reads proxy and CA-bundle variables from the environment on every request,
                # which costs milliseconds each; `_settings_for` reads them once per host instead.
                session.trust_env = False
                pool = max(10, self.limit.maximum)
                adapter = WatchedAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers.update(
                    {"Authorization": auth_header, "Accept": "application/json", "User-Agent": USER_AGENT}
                )
                self._session = session
                self._environment = {}
            return self._session

    @property
    def is_open(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> requests.Session:
        """The keep-alive session, opened (see `open`) on first use."""
        return self.open()

    def _settings_for(self, session: requests.Session, url: str) -> dict[str, Any]:
        """Proxies and CA bundle from the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...), per host."""
        scheme, netloc = urlsplit(url)[:2]
        origin = f"{scheme}://{netloc}"
        settings = self._environment.get(origin)
        if settings is None:
            with requests.Session() as probe:  # trust_env=True: exactly what requests would have used
                merged = probe.merge_environment_settings(url, {}, None, None, None)
            settings = {key: value for key, value in merged.items() if key != "stream"}
            self._environment[origin] = settings
        return settings

    def close(self) -> None:
        """Close the session; the next request (or `open`) resolves the key again and opens a new one."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def post_json(self, url: str, payload: Mapping[str, Any] | JsonBody) -> Any:
        """
        POST a JSON body and return the decoded JSON answer.

        :param payload: The body as a mapping, or already serialized by `encode_json`: a caller that
            drops its inputs after serializing holds one copy of a large body, not several.
        """
        return parse_json(self.request("POST", url, json_body=payload), url)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | JsonBody | None = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """
        Send one request, retrying transient failures, and return the 2xx response (its body read).

        Each attempt, connect to last byte, takes at most `timeout`; backoff sleeps take at most
        `MAX_RETRY_AFTER` (a longer `Retry-After` raises at once), so one call takes at most
        `(max_retries + 1) * timeout + max_retries * MAX_RETRY_AFTER` seconds. If the call's work is
        cancelled (see `cancellation`), no further attempt starts and a backoff sleep ends at once.

        :param url: The URL on the hosted API (or any other); the environment may move it (`endpoints.py`).
        :param allow_redirects: `False` returns a 3xx answer as it is (e.g. to read its `Location`).
        :raises JinaError: a subclass saying what went wrong.
        :raises ValueError: If the URL cannot be requested at all (a bad `base_url`); not retried.
        """
        url = resolve_url(url)
        endpoint = without_query(url)
        token = current_token()
        attempt = 0
        while True:
            if token is not None:
                token.raise_if_cancelled(f"a request to {endpoint}")
            try:
                return self._send(method, url, endpoint, json_body, headers, allow_redirects)
            except JinaError as error:
                retryable = isinstance(error, JinaConnectionError) or error.status_code in RETRYABLE_STATUS
                if not retryable or attempt >= self.max_retries:
                    raise
                if error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER:
                    _give_up_on_long_retry_after(error, endpoint)
                    raise
                delay = self._retry_delay(url, attempt, error)
                if token is None:
                    time.sleep(delay)
                elif token.sleep(delay):
                    msg = f"Cancelled while waiting to retry {endpoint} (after: {error})"
                    raise JinaCancelledError(msg, endpoint=endpoint) from None
                attempt += 1

    def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        json_body: Mapping[str, Any] | JsonBody | None,
        headers: Mapping[str, str] | None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """One try, holding a concurrency slot and paced to the key's limits: the 2xx response, else a `JinaError`."""
        body: dict[str, Any] = {"json": json_body}
        if isinstance(json_body, JsonBody):
            body = {"data": json_body.reader()}  # a fresh reader per try
            headers = {**(headers or {}), "Content-Type": "application/json"}
        session = self.session
        pacer = self._pacer(session, url)
        limit = self.limit
        limit.acquire()
        try:
            ticket = pacer.acquire(url, json_body)  # may wait for a slot or the next window; cancellable
        except BaseException:
            limit.release()
            raise
        response: requests.Response | None = None
        try:
            token = current_token()
            if token is not None:  # cancelled while waiting for a slot
                token.raise_if_cancelled(f"a request to {endpoint}")
            settings = self._settings_for(session, url)
            # `timeout` bounds each socket read; the deadline bounds the whole exchange, body included
            with watch(self.timeout) as deadline:
                try:
                    answer = session.request(
                        method,
                        url,
                        headers=headers,
                        timeout=self.timeout,
                        allow_redirects=allow_redirects,
                        stream=True,
                        **body,
                        **settings,
                    )
                    _read_body(answer, self.max_response_bytes, endpoint)
                    response = answer  # the pacer learns only from an answer read in full
                except (
                    requests.exceptions.InvalidURL,
                    requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema,
                ):
                    msg = f"Cannot request {endpoint}: not a valid URL. {not_found_hint(endpoint)}"
                    raise ValueError(msg) from None
                except requests.RequestException as exc:
                    if deadline.expired or isinstance(exc, requests.Timeout):
                        msg = f"Jina API did not answer within {self.timeout} s: {endpoint}"
                        raise JinaTimeoutError(msg, endpoint=endpoint) from None
                    msg = f"Could not reach the Jina API at {endpoint}: {type(exc).__name__}: {str(exc)[:300]}"
                    raise JinaConnectionError(msg, endpoint=endpoint) from None
        finally:
            pacer.release(ticket, response)
            limit.release()
        assert response is not None  # set unless an exception left above
        if not response.ok:
            detail, code, request_id = _error_fields(response)
            # a 404 is almost always a wrong base_url: say what it should look like
            hint = not_found_hint(endpoint) if response.status_code == 404 else None
            error = error_for_status(
                response.status_code, endpoint, detail, code=code, request_id=request_id, hint=hint
            )
            error.retry_after = _retry_after(response)
            raise error
        return response

    def _pacer(self, session: requests.Session, url: str) -> Pacer:
        """The rate limiter of this key (found by a hash of the session's auth header) and `url`'s host."""
        return limiter_for(str(session.headers.get("Authorization", "")), url, self.rate_limits)

    def _retry_delay(self, url: str, attempt: int, error: JinaError) -> float:
        """A rate limit the pacer understands is waited for in its `acquire`; anything else backs off."""
        paced = self._pacer(self.session, url).retry_delay(error.code, error.status_code)
        return self._backoff(attempt, error.retry_after) if paced is None else paced

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER) + random.uniform(0, 0.1 * self.backoff_base)
        # "full jitter": spreads the retries of concurrent batches instead of synchronising them
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


def _read_body(response: requests.Response, limit: int, endpoint: str) -> None:
    """Read the (decompressed) body into `response.content`, refusing one over `limit` bytes as it streams."""
    try:
        declared = int(response.headers.get("Content-Length", "0"))
    except ValueError:
        declared = 0
    chunks: list[bytes] = []
    size = 0
    try:
        if declared > limit and not response.headers.get("Content-Encoding"):
            size = declared
        else:
            for chunk in response.iter_content(_READ_CHUNK):
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
        if size > limit:
            chunks.clear()
            msg = (
                f"Jina API answered HTTP {response.status_code} from {endpoint} with a body over "
                f"{limit // (1024 * 1024)} MB; refused, not read into memory"
            )
            raise JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint)
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]
    finally:
        response.close()  # back to the pool if the body was read, else the connection is dropped


def _give_up_on_long_retry_after(error: JinaError, endpoint: str) -> None:
    """Turn a wait longer than the client sleeps into the error's message: when the caller may retry."""
    wait = error.retry_after or 0.0
    message = (
        f"Jina API asks to wait {wait:.0f} s before retrying (Retry-After), more than the {MAX_RETRY_AFTER:.0f} s "
        f"this client waits: HTTP {error.status_code} from {endpoint}. Retry after {retry_clock(wait)}."
    )
    if error.detail:
        message += f" Detail: {error.detail}"
    error.args = (message,)


class JsonBody:
    """
    A JSON request body serialized into pieces, so large base64 values are sent without being copied.

    Send it with `JinaClient.post_json`; each try reads it afresh (see `reader`).
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.length = sum(len(piece) for piece in pieces)

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    def reader(self) -> _PiecesReader:
        """A file-like view for `requests`: streamed with a `Content-Length`, `read` copies small blocks."""
        return _PiecesReader(self.pieces, self.length)


class _PiecesReader:
    def __init__(self, pieces: list[bytes], length: int) -> None:
        self._pieces = pieces
        self._length = length
        self._index = 0
        self._offset = 0

    def __len__(self) -> int:  # `requests` sets Content-Length from it (no chunked encoding)
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(65536), b"")

    def read(self, size: int = -1) -> bytes:
        out = []
        wanted = size if size >= 0 else self._length
        while wanted > 0 and self._index < len(self._pieces):
            piece = self._pieces[self._index]
            chunk = piece[self._offset : self._offset + wanted]
            self._offset += len(chunk)
            wanted -= len(chunk)
            if self._offset >= len(piece):
                self._index, self._offset = self._index + 1, 0
            out.append(chunk)
        return b"".join(out)


def encode_json(payload: Mapping[str, Any]) -> JsonBody:
    """
    A JSON body, serialized as `requests` would (UTF-8, no NaN), for `JinaClient.post_json`.

    A `bytes` value anywhere in the payload must be ASCII that needs no JSON escaping (base64 text):
    it becomes a JSON string that is sent as it is, without a copy, so a body of large images costs
    one copy of them while it waits for its answer, not three (the inputs, a JSON `str`, its bytes).
    """
    blobs: list[bytes] = []
    marker = f"jina-blob-{secrets.token_hex(8)}-"  # random: no text of the payload can contain it

    def splice(value: Any) -> str:
        if not isinstance(value, bytes):
            msg = f"Object of type {type(value).__name__} is not JSON serializable"
            raise TypeError(msg)
        blobs.append(value)
        return f"{marker}{len(blobs) - 1}"

    text = json.dumps(payload, allow_nan=False, default=splice).encode("utf-8")
    parts = text.split(f'"{marker}'.encode())
    pieces = [parts[0]]
    for part in parts[1:]:
        index, _, rest = part.partition(b'"')
        pieces += [b'"', blobs[int(index)], b'"', rest]
    return JsonBody(pieces)


def parse_json(response: requests.Response, url: str) -> Any:
    """Decode a JSON body or raise `JinaMalformedResponseError`."""
    try:
        return response.json()
    except RecursionError:
        endpoint = called_endpoint(url)
        msg = f"Jina API answered HTTP {response.status_code} from {endpoint} with JSON nested too deeply to read"
        raise JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint) from None
    except ValueError:
        endpoint = called_endpoint(url)
        snippet = response.text[:200]
        msg = f"Jina API answered HTTP {response.status_code} from {endpoint} with a body that is not JSON: {snippet!r}"
        raise JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint) from None


def _error_fields(response: requests.Response) -> tuple[str | None, str | None, str | None]:
    """`detail`, `code` and `request_id` of an error body (Jina's `ErrorResponse` / `HTTPValidationError`)."""
    try:
        return _json_error_fields(response.json())
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder/encoder goes
        text = response.text.strip()
        return text[:500] or None, None, None


def _json_error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    if not isinstance(body, dict):
        return json.dumps(body)[:500], None, None
    detail = None
    for key in ("detail", "message", "readableMessage", "error"):  # the Reader says `message`
        if body.get(key):
            value = body[key]
            detail = value if isinstance(value, str) else json.dumps(value)[:500]
            break
    problems = _validation_errors(body.get("errors"), detail or "")
    if problems:
        detail = f"{detail}: {problems}" if detail else problems
    if detail is None:
        detail = json.dumps(body)[:500]
    code, request_id = body.get("code"), body.get("request_id")
    return detail, code if isinstance(code, str) else None, request_id if isinstance(request_id, str) else None


def _validation_errors(errors: Any, detail: str) -> str | None:
    """A 422's `errors` list (`{"field", "message", ...}` items) as one short line, minus what `detail` says."""
    if not isinstance(errors, list):
        return None
    parts = [
        f"{item.get('field')}: {item.get('message')}" if item.get("field") else str(item.get("message"))
        for item in errors[:5]
        if isinstance(item, dict) and item.get("message") and str(item.get("message")) not in detail
    ]
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts) or None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


__all__ = [
    "MAX_RETRY_AFTER",
    "JinaClient",
    "JinaError",
    "JsonBody",
    "encode_json",
    "parse_json",
    "resolve_max_retries",
    "resolve_timeout",
]
