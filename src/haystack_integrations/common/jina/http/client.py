"""
The one HTTP client every Jina component uses: a retry loop over a transport.

`JinaClient` holds the settings (the key as a `Secret`, timeout, retries, limits), the Bearer auth header
and the component's bound on requests in flight; it tries a request until it gets a 2xx answer or an error
not worth another try. Bytes move through a transport (`transport.py`); an answer is read once into an
`Answer` (`answer.py`); pacing to the key's rate limits is shared by all clients of a key and host
(`pacing/`). Its requests run on the process's request loop (`engine.py` states the concurrency model).

The key is resolved and the session opened only by `open`; copies, pickles and forked children start with
no session, lock or counter of the original (see `fork.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Mapping
from typing import Any

import aiohttp
from haystack.utils import Secret
from multidict import CIMultiDict

from haystack_integrations.common.jina import engine, fork
from haystack_integrations.common.jina.endpoints import overrides, resolve_url, without_query
from haystack_integrations.common.jina.errors import JinaConnectionError, JinaError
from haystack_integrations.common.jina.http.answer import Answer, error_for, give_up_on_long_retry_after, parse_json
from haystack_integrations.common.jina.http.body import Body, JsonBody, NothingToSend, PendingBody
from haystack_integrations.common.jina.http.settings import (
    RETRYABLE_STATUS,
    USER_AGENT,
    check_count,
    resolve_api_key,
    resolve_max_retries,
    resolve_timeout,
)
from haystack_integrations.common.jina.http.transport import AiohttpTransport, Request, Transport
from haystack_integrations.common.jina.ratelimit import MAX_RETRY_AFTER, Limits, env_limits, limiter_for, parse_limits
from haystack_integrations.common.jina.redaction import remember_key

#: The largest answer (after decompression) the client reads; a larger one is refused while streaming.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class ClientBase:
    """
    A client between its requests: its settings, key, transport and slots; how it opens, closes, copies and forks.

    :param api_key: The API key, as a Haystack `Secret`. It is resolved by `open`, not here.
    :param timeout: Seconds an attempt may take, connect to last byte; `None` reads `JINA_TIMEOUT`, else 60.
    :param max_retries: Retries on 429, 500, 502, 503, 504 and connection errors; `None` reads
        `JINA_MAX_RETRIES`, else 5.
    :param max_concurrency: Requests in flight at once through this client, at most, as the user stated it;
        `None` (not stated) follows the key's limit (see `pacing/policy.py`), up to `unstated_cap` if given.
    :param rate_limits: The key's known rate limits, if any: a tier (`"free"`, `"tier1"`, `"tier2"`) or
        `{"rpm", "tpm", "concurrency"}`. `None` reads `JINA_RATE_LIMITS`, else learns them from answers.
    :param transport: What moves the bytes; `None` (the default) is an `aiohttp` session of this client's own.
    """

    def __init__(
        self,
        api_key: Secret,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        rate_limits: str | Mapping[str, int] | Limits | None = None,
        unstated_cap: int | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._api_key = api_key
        self.timeout = resolve_timeout(timeout)
        self.max_retries = resolve_max_retries(max_retries)
        self.max_concurrency = check_count(max_concurrency, "max_concurrency")
        #: With neither `max_concurrency` nor the key's concurrency stated, the most this client sends at once
        #: while the key's bound grows: components whose requests carry images or files bound their memory so.
        self.unstated_cap = check_count(unstated_cap, "unstated_cap")
        self.rate_limits = parse_limits(rate_limits)
        self._given_transport = transport
        self._start_fresh()
        fork.track(self)

    # Runtime state: never copied, pickled or inherited by a forked child.
    _RUNTIME = ("_auth", "_transport", "_slots", "_lock")

    def _start_fresh(self) -> None:
        """No key, session or slots (for a new client, a copy, a forked child)."""
        self._auth: str | None = None
        self._transport: Transport = self._given_transport or AiohttpTransport()
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()

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
                key = resolve_api_key(self._api_key)
                remember_key(key)  # every later error message is scanned for it (redaction.py)
                auth = f"Bearer {key}"
                overrides()  # a bad JINA_*_BASE_URL fails here, at warm-up, not in the middle of a run
                self._auth = auth
        if not self._transport.opened and not engine.in_loop_thread():
            engine.run_sync(self._open_transport())  # on the request loop, which the session belongs to

    def _auth_for_call(self) -> str:
        """The Authorization value a call starts with (opening the client if needed, again if closed meanwhile)."""
        while True:
            self.open()
            auth = self._auth
            if auth is not None:
                return auth

    async def _open_transport(self) -> None:
        self._transport.open()

    @property
    def is_open(self) -> bool:
        return self._auth is not None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The keep-alive session, opened (see `open`) on first use."""
        self.open()
        session = getattr(self._transport, "session", None)
        assert isinstance(session, aiohttp.ClientSession)
        return session

    def close(self) -> None:
        """Close the connections; the next request (or `open`) resolves the key again. Idempotent."""
        with self._lock:
            transport, self._auth = self._transport, None
            self._transport = self._given_transport or AiohttpTransport()
        if transport.opened:
            with contextlib.suppress(RuntimeError):  # the loop is gone (interpreter exit): nothing to close
                asyncio.run_coroutine_threadsafe(transport.aclose(), engine.loop())

    def _component_slots(self) -> asyncio.Semaphore | None:
        cap = self.max_concurrency
        if cap is None and self.unstated_cap is not None:
            stated = self.rate_limits or env_limits()  # a stated key concurrency wins over the cap too
            cap = self.unstated_cap if stated is None or stated.concurrency is None else None
        if cap is not None and self._slots is None:
            self._slots = asyncio.Semaphore(cap)
        return self._slots


class JinaClient(ClientBase):
    """
    A small client for the Jina HTTP APIs, safe to share between threads and event loops: a retry loop over a
    transport (its settings and lifecycle: see `ClientBase`).

    `request` / `post_json` block the calling thread, `send` / `post_json_async` are awaited on the request loop.
    """

    backoff_base = 0.5
    backoff_cap = 20.0
    #: answers larger than this (decompressed) are refused while streaming, before they fill memory
    max_response_bytes = MAX_RESPONSE_BYTES

    # ------------------------------------------------------------------ blocking calls
    def post_json(self, url: str, payload: Mapping[str, Any] | JsonBody, *, idempotent: bool = True) -> Any:
        """POST a JSON body and return the decoded JSON answer (blocking; see `post_json_async`)."""
        return engine.run_sync(self.post_json_async(url, payload, idempotent=idempotent))

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
    async def post_json_async(
        self, url: str, payload: Body, *, size: tuple[int, int] | None = None, idempotent: bool = True
    ) -> Any:
        """
        POST a JSON body and return the decoded JSON answer.

        :param payload: The body as a mapping, or already serialized by `encode_json` (a caller that drops its
            inputs after serializing holds one copy of a large body), or a function making either: it is
            called once a slot is free, so bodies waiting for a slot take no memory.
        :param size: Characters and images of the body, for the pacer's token estimate, when `payload` is
            a function.
        :param idempotent: `False` for a request that changes something on each call (training): see `send`.
        """
        try:
            answer = await self.send("POST", url, json_body=payload, size=size, idempotent=idempotent)
        except NothingToSend:
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
        idempotent: bool = True,
        credentials: bool = True,
    ) -> Answer:
        """
        Send one request, retrying transient failures, and return the 2xx answer (its body read).

        Each attempt, connect to last byte, takes at most `timeout`; backoff sleeps take at most
        `MAX_RETRY_AFTER` (a longer `Retry-After` raises at once). A 429 for concurrency, RPM or TPM is flow
        control: it is retried without spending an attempt while the key makes progress, for at most
        `MAX_REFUSED_SECONDS` (10 windows; `pacing/policy.py`). So one call takes at most
        `MAX_REFUSED_SECONDS + (max_retries + 1) * timeout + max_retries * MAX_RETRY_AFTER` seconds.

        :param url: The URL on the hosted API (or any other); the environment may move it (`endpoints.py`).
        :param allow_redirects: `False` returns a 3xx answer as it is (e.g. to read its `Location`).
        :param idempotent: `False` retries only what the server cannot have acted on: a connection that
            failed before sending, or a 429 (a refusal, not a failure half-way). A 5xx or a timeout may come
            after the server did the work, and sending it again would do it twice.
        :param credentials: `False` sends no `Authorization` header: for a signed URL (a Batch API output file),
            which carries its own credential and may be on another host that must not see the key.
        :raises JinaError: a subclass saying what went wrong.
        :raises ValueError: If the URL cannot be requested at all (a bad `base_url`); not retried.
        """
        auth = self._auth_for_call()  # kept for every try: a `close()` meanwhile does not take the key away
        url = resolve_url(url)
        endpoint = without_query(url)
        body = PendingBody(json_body, size)
        attempt = 0
        refused_since: float | None = None  # a refusal for a rate limit of the key is flow control: no attempt spent
        while True:
            try:
                return await self._attempt(method, url, endpoint, body, headers, allow_redirects, auth, credentials)
            except JinaError as error:
                retryable = worth_retrying(error, idempotent=idempotent)
                if retryable and error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER:
                    give_up_on_long_retry_after(error, endpoint, MAX_RETRY_AFTER)
                    raise
                if retryable:
                    refused_since = limiter_for(auth, url, self.rate_limits).free_retry(error, refused_since)
                    if refused_since is not None:
                        continue  # the pacer's `acquire` waits as long as needed
                if not retryable or attempt >= self.max_retries:
                    if retryable and attempt:
                        error.args = (f"{error.args[0]} (gave up after {attempt + 1} attempts)",)
                    raise
                await asyncio.sleep(self._retry_delay(url, attempt, error, auth))
                attempt += 1

    async def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        body: PendingBody,
        headers: Mapping[str, str] | None,
        allow_redirects: bool,
        auth: str,
        credentials: bool = True,
    ) -> Answer:
        """One try, holding a slot of this client and one of the key (the pacer): the 2xx answer, else a `JinaError`."""
        async with self._component_slots() or contextlib.nullcontext():
            pacer = limiter_for(auth, url, self.rate_limits)
            ticket = await pacer.acquire(url, body.payload, self.max_concurrency, body.size)
            answer: Answer | None = None
            try:
                content, extra_headers = await body.render(headers)
                request = Request(
                    method=method,
                    url=url,
                    endpoint=endpoint,
                    headers=request_headers(extra_headers, auth if credentials else None),
                    content=content,
                    follow_redirects=allow_redirects,
                    timeout=self.timeout,
                    max_response_bytes=self.max_response_bytes,
                )
                answer = await self._transport.handle(request)
            finally:
                pacer.release(ticket, None if answer is None else answer.signals)
        if not answer.ok and not (300 <= answer.status_code < 400 and not allow_redirects):  # a 3xx asked for
            raise error_for(answer, endpoint, auth)
        return answer

    def _retry_delay(self, url: str, attempt: int, error: JinaError, auth: str) -> float:
        """A rate limit the pacer understands is waited for in its `acquire`; anything else backs off."""
        paced = limiter_for(auth, url, self.rate_limits).retry_delay(error.code, error.status_code)
        return paced if paced is not None else backoff(attempt, error, self.backoff_base, self.backoff_cap)


def request_headers(extra: Mapping[str, str], auth: str | None) -> CIMultiDict[str]:
    """A request's headers; `auth` `None` sends no `Authorization` (a signed URL: see `JinaClient.send`)."""
    headers = CIMultiDict({"Accept": "application/json", "User-Agent": USER_AGENT})
    if auth is not None:
        headers["Authorization"] = auth
    headers.update(extra)
    return headers


def worth_retrying(error: JinaError, *, idempotent: bool) -> bool:
    """A connection error or a transient status; for a request that is not idempotent, only if never acted on."""
    if not idempotent and not _never_acted_on(error):
        return False
    return isinstance(error, JinaConnectionError) or error.status_code in RETRYABLE_STATUS


def backoff(attempt: int, error: JinaError, base: float, cap: float) -> float:
    """Seconds before retry number `attempt + 1`: exponential with full jitter, or the answer's `Retry-After`."""
    # "full jitter": spreads the retries of concurrent batches instead of synchronising them
    jittered = random.uniform(0, min(cap, base * 2**attempt))
    if error.retry_after is not None:  # 0, or a date already past (whole seconds), is no reason to retry at once
        return max(min(error.retry_after, MAX_RETRY_AFTER), jittered) + random.uniform(0, 0.1 * base)
    return jittered


def _never_acted_on(error: JinaError) -> bool:
    """Whether the server cannot have done what the request asked: no connection was made, or it refused (429)."""
    return (isinstance(error, JinaConnectionError) and error.before_sending) or error.status_code == 429
