"""The one HTTP client every Jina component uses.

`JinaClient` owns a keep-alive `aiohttp` session on the process's request loop (`engine.py` states the
concurrency model), the Bearer auth header, timeouts, retries with backoff, redirects, the mapping from
HTTP errors to `JinaError` subclasses, and the component's bound on requests in flight. Pacing to the
API's rate limits is shared by all clients of a key and host (`ratelimit.py`).

Its state is its settings (the key as a `Secret`, timeouts, limits). The key is resolved and the session
opened only by `open`; copies, pickles and forked children start with no session, lock or counter of
the original (see `fork.py`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import inspect
import json
import math
import os
import random
import re
import secrets
import ssl
import threading
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeAlias
from urllib.parse import quote, urljoin, urlsplit

import aiohttp
import yarl
from haystack.utils import Secret
from multidict import CIMultiDict

from haystack_integrations.common.jina import engine, fork
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
from haystack_integrations.common.jina.pacing.signals import Signals, read_signals
from haystack_integrations.common.jina.ratelimit import (
    MAX_RETRY_AFTER,
    Limits,
    count,
    env_limits,
    limiter_for,
    parse_limits,
)

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
#: Embeddings and rerank are idempotent, so a failure on Jina's side (500 INTERNAL_ERROR, 503
#: SERVICE_UNAVAILABLE, 504 SERVICE_TIMEOUT, a gateway's 502) is worth another try, like a 429.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
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


class Answer:
    """
    A complete HTTP answer (status, headers, body read in full), shaped like `requests.Response` for its readers.

    :param status_code: The HTTP status.
    :param headers: Case-insensitive headers.
    :param content: The (decompressed) body.
    :param url: The URL that answered.
    """

    def __init__(
        self, status_code: int, headers: Mapping[str, str], content: bytes, url: str, reason: str = ""
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url
        self.reason = reason
        self._encoding: str | None = None

    def __repr__(self) -> str:
        return f"<Answer [{self.status_code}] {without_query(self.url)}>"

    @property
    def ok(self) -> bool:
        """A 2xx (unlike `requests`, a 3xx is not: a redirect that was not followed is no answer)."""
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECT_STATUS and "Location" in self.headers

    @property
    def encoding(self) -> str:
        """The charset the `Content-Type` names, else UTF-8 (or what was set)."""
        if self._encoding is not None:
            return self._encoding
        match = re.search(r"charset=([\w.:-]+)", self.headers.get("Content-Type", ""), re.IGNORECASE)
        if match:
            try:
                return codecs.lookup(match.group(1)).name
            except LookupError:
                pass
        return "utf-8"

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @functools.cached_property
    def signals(self) -> Signals:
        """What this answer says about the key's rate limits, parsed once (for the pacer and the error mapper)."""
        return read_signals(self.status_code, self.headers, self.content)


REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
#: Redirects followed per request; more is a loop, reported and never retried.
MAX_REDIRECTS = 5


class JinaClient:
    """
    A small client for the Jina HTTP APIs, safe to share between threads and event loops.

    Its requests run on the process's request loop (`engine.py`, where the concurrency model is stated):
    `request` / `post_json` block the calling thread, `send` / `post_json_async` are awaited there.

    :param api_key: The API key, as a Haystack `Secret`. It is resolved by `open`, not here.
    :param timeout: Seconds an attempt may take, connect to last byte; `None` reads `JINA_TIMEOUT`, else 60.
    :param max_retries: Retries on 429, 500, 502, 503, 504 and connection errors; `None` reads
        `JINA_MAX_RETRIES`, else 5.
    :param max_concurrency: Requests in flight at once through this client, at most, as the user stated it;
        `None` (not stated) follows the key's limit (see `ratelimit.py`), up to `unstated_cap` if given.
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
        max_concurrency: int | None = None,
        rate_limits: str | Mapping[str, int] | Limits | None = None,
        unstated_cap: int | None = None,
    ) -> None:
        self._api_key = api_key
        self.timeout = resolve_timeout(timeout)
        self.max_retries = resolve_max_retries(max_retries)
        self.max_concurrency = check_count(max_concurrency, "max_concurrency")
        #: With neither `max_concurrency` nor the key's concurrency stated, the most this client sends at once
        #: while the key's bound grows: components whose requests carry images or files bound their memory so.
        self.unstated_cap = check_count(unstated_cap, "unstated_cap")
        self.rate_limits = parse_limits(rate_limits)
        self._start_fresh()
        fork.track(self)

    # Runtime state: never copied, pickled or inherited by a forked child.
    _RUNTIME = ("_auth", "_session", "_slots", "_lock", "_proxies")

    def _start_fresh(self) -> None:
        """No key, session or slots (for a new client, a copy, a forked child)."""
        self._auth: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self._proxies: dict[str, str | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        """The settings only: copy.deepcopy and pickle give a client with its own session and slots."""
        return {key: value for key, value in self.__dict__.items() if key not in self._RUNTIME}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start_fresh()
        fork.track(self)

    def _after_fork_in_child(self) -> None:
        # Drop, never close: the sockets are shared with the parent, which may be using them right now.
        self._start_fresh()

    def __repr__(self) -> str:
        settings = f"timeout={self.timeout}, max_retries={self.max_retries}, max_concurrency={self.max_concurrency}"
        return f"JinaClient({settings})"

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """
        Resolve the key and check the endpoint variables; idempotent. The connection opens with the first request.

        :raises JinaMissingKeyError: If the key cannot be resolved.
        :raises ValueError: If an endpoint variable (see `endpoints.py`) is not an absolute http(s) URL.
        """
        with self._lock:
            if self._auth is None:
                auth = f"Bearer {resolve_api_key(self._api_key)}"
                overrides()  # a bad JINA_*_BASE_URL fails here, at warm-up, not in the middle of a run
                self._auth = auth
        if self._session is None and not engine.in_loop_thread():
            engine.run_sync(self._make_session())  # on the request loop, which the session belongs to

    async def _make_session(self) -> None:
        self._open_session()

    @property
    def is_open(self) -> bool:
        return self._auth is not None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The keep-alive session, opened (see `open`) on first use."""
        self.open()
        assert self._session is not None
        return self._session

    def close(self) -> None:
        """Close the connections; the next request (or `open`) resolves the key again. Idempotent."""
        with self._lock:
            session, self._session, self._auth = self._session, None, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # the loop is gone (interpreter exit): nothing to close
                asyncio.run_coroutine_threadsafe(session.close(), engine.loop())

    def _open_session(self) -> aiohttp.ClientSession:
        """The keep-alive session, made on the request loop on first use."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=_ssl_context(), enable_cleanup_closed=False)
            # no trust_env: aiohttp would read the proxy variables and ~/.netrc again on every request (most of
            # its CPU at hundreds of requests); `_proxy_for` reads them once per host. No cookies are kept.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True
            )
            self._proxies = {}
        return self._session

    def _proxy_for(self, url: str) -> str | None:
        """The proxy `HTTP(S)_PROXY` / `NO_PROXY` give for `url`'s host, as requests reads them; once per host."""
        scheme, netloc = urlsplit(url)[:2]
        origin = f"{scheme}://{netloc}"
        if origin not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            bypass = urllib.request.proxy_bypass_environment(netloc, proxies)  # type: ignore[attr-defined]
            self._proxies[origin] = None if bypass else proxies.get(scheme)
        return self._proxies[origin]

    def _component_slots(self) -> asyncio.Semaphore | None:
        cap = self.max_concurrency
        if cap is None and self.unstated_cap is not None:
            stated = self.rate_limits or env_limits()  # a stated key concurrency wins over the cap too
            cap = self.unstated_cap if stated is None or stated.concurrency is None else None
        if cap is not None and self._slots is None:
            self._slots = asyncio.Semaphore(cap)
        return self._slots

    # ------------------------------------------------------------------ blocking calls
    def post_json(self, url: str, payload: Mapping[str, Any] | JsonBody) -> Any:
        """POST a JSON body and return the decoded JSON answer (blocking; see `post_json_async`)."""
        return engine.run_sync(self.post_json_async(url, payload))

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | JsonBody | None = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool = True,
    ) -> Answer:
        """Send one request, retrying transient failures, and return the 2xx answer (blocking; see `send`)."""
        return engine.run_sync(
            self.send(method, url, json_body=json_body, headers=headers, allow_redirects=allow_redirects)
        )

    # ------------------------------------------------------------------ on the request loop
    async def post_json_async(self, url: str, payload: Body, *, size: tuple[int, int] | None = None) -> Any:
        """
        POST a JSON body and return the decoded JSON answer.

        :param payload: The body as a mapping, or already serialized by `encode_json` (a caller that drops its
            inputs after serializing holds one copy of a large body), or a function making either: it is
            called once a slot is free, so bodies waiting for a slot take no memory.
        :param size: Characters and images of the body, for the pacer's token estimate, when `payload` is
            a function.
        """
        try:
            answer = await self.send("POST", url, json_body=payload, size=size)
        except _NothingToSend:
            return None  # a function body made nothing: no request was sent
        return parse_json(answer, url)

    async def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool = True,
        size: tuple[int, int] | None = None,
    ) -> Answer:
        """
        Send one request, retrying transient failures, and return the 2xx answer (its body read).

        Each attempt, connect to last byte, takes at most `timeout`; backoff sleeps take at most
        `MAX_RETRY_AFTER` (a longer `Retry-After` raises at once). A 429 for concurrency, RPM or TPM is flow
        control: it is retried without spending an attempt while the key makes progress, for at most
        `MAX_REFUSED_SECONDS` (10 windows, see `pacing/policy.py`). So one call takes at most
        `MAX_REFUSED_SECONDS + (max_retries + 1) * timeout + max_retries * MAX_RETRY_AFTER` seconds.

        :param url: The URL on the hosted API (or any other); the environment may move it (`endpoints.py`).
        :param allow_redirects: `False` returns a 3xx answer as it is (e.g. to read its `Location`).
        :raises JinaError: a subclass saying what went wrong.
        :raises ValueError: If the URL cannot be requested at all (a bad `base_url`); not retried.
        """
        self.open()
        url = resolve_url(url)
        endpoint = without_query(url)
        body = _Body(json_body, size)
        attempt = 0
        refused_since: float | None = None  # a refusal for a rate limit is flow control: it spends no attempt
        while True:
            try:
                return await self._attempt(method, url, endpoint, body, headers, allow_redirects)
            except JinaError as error:
                retryable = isinstance(error, JinaConnectionError) or error.status_code in RETRYABLE_STATUS
                if retryable and error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER:
                    _give_up_on_long_retry_after(error, endpoint)
                    raise
                refused_since = limiter_for(self._auth or "", url, self.rate_limits).free_retry(error, refused_since)
                if refused_since is not None:
                    continue  # the pacer's `acquire` waits as long as needed
                if not retryable or attempt >= self.max_retries:
                    if retryable and attempt:
                        error.args = (f"{error.args[0]} (gave up after {attempt + 1} attempts)",)
                    raise
                await asyncio.sleep(self._retry_delay(url, attempt, error))
                attempt += 1

    async def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        body: _Body,
        headers: Mapping[str, str] | None,
        allow_redirects: bool,
    ) -> Answer:
        """One try, holding a slot of this client and one of the key (the pacer): the 2xx answer, else a `JinaError`."""
        slots = self._component_slots()
        if slots is not None:
            await slots.acquire()
        try:
            auth = self._auth or ""
            pacer = limiter_for(auth, url, self.rate_limits)
            ticket = await pacer.acquire(url, body.payload, self.max_concurrency, body.size)
            answer: Answer | None = None
            try:
                data, sent_headers = await body.render(headers)
                if body.made_nothing:
                    raise _NothingToSend
                answer = await self._exchange(method, url, endpoint, data, sent_headers, allow_redirects)
            finally:
                pacer.release(ticket, None if answer is None else answer.signals)
        finally:
            if slots is not None:
                slots.release()
        if not answer.ok and not (300 <= answer.status_code < 400 and not allow_redirects):  # a 3xx asked for
            raise _error_for(answer, endpoint, auth)
        return answer

    async def _exchange(
        self,
        method: str,
        url: str,
        endpoint: str,
        data: bytes | JsonBody | None,
        extra_headers: Mapping[str, str],
        allow_redirects: bool,
    ) -> Answer:
        """Move the bytes: send, follow redirects, read the whole answer; within `timeout`, else `JinaTimeoutError`."""
        session = self._open_session()
        headers = CIMultiDict(
            {"Authorization": self._auth or "", "Accept": "application/json", "User-Agent": USER_AGENT}
        )
        headers.update(extra_headers)
        try:
            async with asyncio.timeout(self.timeout) if hasattr(asyncio, "timeout") else _timeout(self.timeout):
                for _ in range(MAX_REDIRECTS + 1):
                    answer = await self._one_exchange(session, method, url, data, headers)
                    if not (allow_redirects and answer.is_redirect):
                        return answer
                    url = _redirect_target(answer, url, method, endpoint)
                raise JinaError(
                    f"Jina API redirected more than {MAX_REDIRECTS} times (a redirect loop?) from {endpoint}; "
                    f"last Location: {without_query(url)}",
                    status_code=answer.status_code,
                    endpoint=endpoint,
                )
        except TimeoutError:
            msg = f"Jina API did not answer within {self.timeout} s: {endpoint}"
            raise JinaTimeoutError(msg, endpoint=endpoint) from None
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            msg = f"Cannot request {endpoint}: not a valid URL ({type(exc).__name__}). {not_found_hint(endpoint)}"
            raise ValueError(msg) from None
        except (aiohttp.ClientError, aiohttp.http_exceptions.HttpProcessingError, OSError) as exc:
            text = _redact(f"{type(exc).__name__}: {exc}", self._auth)[:300]
            msg = f"Could not reach the Jina API at {endpoint}: {text}"
            raise JinaConnectionError(msg, endpoint=endpoint) from None

    async def _one_exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        data: bytes | JsonBody | None,
        headers: CIMultiDict[str],
    ) -> Answer:
        payload = data.stream() if isinstance(data, JsonBody) else data
        async with session.request(
            method,
            yarl.URL(url, encoded=True),
            data=payload,
            headers=headers,
            allow_redirects=False,
            proxy=self._proxy_for(url),
        ) as response:
            content = await _read_body(response, self.max_response_bytes, without_query(url))
            return Answer(
                response.status, response.headers, _redact_bytes(content, self._auth), url, response.reason or ""
            )

    def _retry_delay(self, url: str, attempt: int, error: JinaError) -> float:
        """A rate limit the pacer understands is waited for in its `acquire`; anything else backs off."""
        paced = limiter_for(self._auth or "", url, self.rate_limits).retry_delay(error.code, error.status_code)
        return self._backoff(attempt, error.retry_after) if paced is None else paced

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # "full jitter": spreads the retries of concurrent batches instead of synchronising them
        jittered = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        if retry_after is not None:  # 0, or a date already past (whole seconds), is no reason to retry at once
            return max(min(retry_after, MAX_RETRY_AFTER), jittered) + random.uniform(0, 0.1 * self.backoff_base)
        return jittered


#: A request body: a mapping, a `JsonBody`, or a function making one (maybe awaitable) once a slot is free.
Body: TypeAlias = "Mapping[str, Any] | JsonBody | Callable[[], Any]"


class _NothingToSend(Exception):  # noqa: N818
    """A function body made nothing to send (every input failed on its own)."""


class _Body:
    """A request body as given (a mapping, a `JsonBody`, or a function making one once a slot is free)."""

    def __init__(self, given: Body | None, size: tuple[int, int] | None) -> None:
        self._given = given
        self._made: Mapping[str, Any] | JsonBody | None = None if callable(given) else given
        self._encoded: bytes | JsonBody | None = None  # what goes on the wire, made on the first try
        self.size = size

    @property
    def payload(self) -> Any:
        return self._made

    @property
    def made_nothing(self) -> bool:
        return callable(self._given) and self._made is None

    async def render(self, headers: Mapping[str, str] | None) -> tuple[bytes | JsonBody | None, CIMultiDict[str]]:
        """The bytes to send and the headers to add; a function body is made on the first try only."""
        if self._made is None and callable(self._given):
            made = self._given()
            self._made = await made if inspect.isawaitable(made) else made
        sent: CIMultiDict[str] = CIMultiDict(headers or {})
        for name, value in sent.items():
            if not ((name.isascii() and value.isascii()) or _latin1(value)):
                msg = f"The header {name!r} cannot be sent: HTTP headers carry Latin-1 text only (got {value[:60]!r})"
                raise ValueError(msg)
        if self._made is None:
            return None, sent
        sent.setdefault("Content-Type", "application/json")
        if self._encoded is None:  # serialized once, not again on each retry
            self._encoded = self._made if isinstance(self._made, JsonBody) else _json_bytes(self._made)
        if isinstance(self._encoded, JsonBody):
            sent["Content-Length"] = str(self._encoded.length)
        return self._encoded, sent


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, allow_nan=False).encode()


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def check_count(value: Any, name: str) -> int | None:
    """`None` or a whole number >= 1 (an integral float from YAML becomes an int); else `ValueError` naming `name`."""
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{name} must be None or a whole number >= 1, got {value!r}"
        raise ValueError(msg)
    return value


def _ssl_context() -> ssl.SSLContext:
    """Certificates from `REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE` if set, else certifi's (as requests does)."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if not bundle:
        try:
            import certifi

            bundle = certifi.where()
        except ImportError:  # the system's store
            bundle = None
    return ssl.create_default_context(cafile=bundle)


class _timeout:  # noqa: N801  (Python 3.10 has no asyncio.timeout)
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._handle: asyncio.TimerHandle | None = None
        self._expired = False

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None

        def expire() -> None:
            self._expired = True
            task.cancel()

        self._handle = asyncio.get_running_loop().call_later(self._seconds, expire)

    async def __aexit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._expired and kind is asyncio.CancelledError:
            raise TimeoutError from None


def _redirect_target(answer: Answer, url: str, method: str, endpoint: str) -> str:
    """Where a redirect goes: same origin only (the key must not follow it elsewhere), body kept for 307/308."""
    location = answer.headers.get("Location", "")
    target = urljoin(url, location)
    same_origin = urlsplit(target)[:2] == urlsplit(url)[:2]
    keeps_method = answer.status_code in (307, 308) or method in ("GET", "HEAD")
    if not same_origin or not keeps_method:
        why = "to another origin" if not same_origin else f"of a {method} with HTTP {answer.status_code}"
        msg = (
            f"Jina API answered HTTP {answer.status_code} from {endpoint}, a redirect {why}, which this client does "
            f"not follow: Location {without_query(target)}. Set base_url to the final address."
        )
        raise JinaError(msg, status_code=answer.status_code, endpoint=endpoint)
    return target


async def _read_body(response: aiohttp.ClientResponse, limit: int, endpoint: str) -> bytes:
    """The (decompressed) body, refusing one over `limit` bytes as it streams."""
    declared = count(response.headers.get("Content-Length"))
    refused = declared is not None and declared > limit and not response.headers.get("Content-Encoding")
    chunks: list[bytes] = []
    size = 0
    if not refused:
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                refused = True
                break
            chunks.append(chunk)
    if refused:
        chunks.clear()
        response.close()  # the rest is not read: drop the connection
        msg = (
            f"Jina API answered HTTP {response.status} from {endpoint} with a body over "
            f"{limit // (1024 * 1024)} MB; refused, not read into memory"
        )
        raise JinaMalformedResponseError(msg, status_code=response.status, endpoint=endpoint)
    return b"".join(chunks)


def _redact(text: str, auth: str | None) -> str:
    """
    `text` (an error's) without the key, whole or in part (a misbehaving proxy may echo the Authorization header).

    Any run of key characters that holds 12 characters in a row of the key, as it is, percent-encoded or with
    JSON escapes, becomes `***`: a cut or encoded copy does not slip through.
    """
    key = (auth or "").removeprefix("Bearer ")
    if len(key) < 12:
        return text.replace(key, "***") if key else text
    return _key_pattern(key).sub("***", text)


@functools.lru_cache(maxsize=16)
def _key_pattern(key: str) -> re.Pattern[str]:
    forms = {key, quote(key, safe=""), key.replace("_", "%5F"), key.replace("_", "\\u005f")}
    windows = {form[start : start + 12] for form in forms for start in range(0, len(form) - 11, 4)}
    around = r"[A-Za-z0-9_%\\\-]*"
    return re.compile(around + "(?:" + "|".join(map(re.escape, sorted(windows))) + ")" + around)


def _redact_bytes(content: bytes, auth: str | None) -> bytes:
    key = (auth or "").removeprefix("Bearer ").encode()
    return content.replace(key, b"***") if key and key in content else content


def _error_for(answer: Answer, endpoint: str, auth: str) -> JinaError:
    """The `JinaError` for a non-2xx answer (a 3xx only when not followed)."""
    if 300 <= answer.status_code < 400:
        location = answer.headers.get("Location")
        where = f"to {without_query(location)}" if location else "without a Location header"
        msg = f"Jina API answered HTTP {answer.status_code} from {endpoint}, a redirect {where}, not an answer"
        return JinaError(msg, status_code=answer.status_code, endpoint=endpoint)
    detail, code, request_id = _error_fields(answer)
    # a 404 is almost always a wrong base_url: say what it should look like
    hint = not_found_hint(endpoint) if answer.status_code == 404 else None
    error = error_for_status(
        answer.status_code,
        endpoint,
        _redact(detail, auth) if detail else None,
        code=code,
        request_id=request_id,
        hint=hint,
    )
    raw = answer.headers.get("Retry-After")
    error.retry_after = answer.signals.retry_after
    error.retry_after_given = raw.strip()[:40] if raw else None  # type: ignore[attr-defined]
    return error


def _give_up_on_long_retry_after(error: JinaError, endpoint: str) -> None:
    """Turn a wait longer than the client sleeps into the error's message: when the caller may retry."""
    given = getattr(error, "retry_after_given", None) or f"{error.retry_after:.0f}"
    status = f"HTTP {error.status_code}" + (f" {error.code}" if error.code else "")
    message = (
        f"Jina API asks to wait before retrying (Retry-After: {given}), longer than the {MAX_RETRY_AFTER:.0f} s "
        f"this client waits: {status} from {endpoint}."
    )
    clock = retry_clock(error.retry_after or 0.0)
    if clock:
        message += f" Retry after {clock}."
    if error.detail:
        message += f" Detail: {error.detail}"
    error.args = (message,)


class JsonBody:
    """
    A JSON request body serialized into pieces, so large base64 values are sent without being copied.

    Send it with `JinaClient.post_json`; each try streams it afresh (see `stream`).
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.length = sum(len(piece) for piece in pieces)

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    async def stream(self) -> AsyncIterator[bytes]:
        """The pieces, large ones in slices (the socket's buffer holds one slice, not a whole image)."""
        for piece in self.pieces:
            view = memoryview(piece)
            for start in range(0, len(view), _WRITE_SLICE):
                yield bytes(view[start : start + _WRITE_SLICE]) if len(view) > _WRITE_SLICE else piece


_WRITE_SLICE = 1024 * 1024


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


def parse_json(response: Answer, url: str) -> Any:
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


def _error_fields(response: Answer) -> tuple[str | None, str | None, str | None]:
    """`detail`, `code` and `request_id` of an error body (Jina's `ErrorResponse` / `HTTPValidationError`)."""
    try:
        return _json_error_fields(response.json())
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested deeper than the decoder goes
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
