"""
Moving bytes: one request out, one `Answer` back, within a time and size limit.

The client (`client.py`) decides what to send and whether to try again; a transport only sends. A test
can hand the client a `MockTransport` that answers from a function, as httpx's does.

`AiohttpTransport` is the real one: a keep-alive `aiohttp` session on the process's request loop
(`engine.py`), proxies read from the environment once per host, certificates as `requests` finds them,
same-origin redirects followed, the body refused while it streams once it passes the size limit.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp
import yarl
from multidict import CIMultiDict

from haystack_integrations.common.jina import engine
from haystack_integrations.common.jina.endpoints import not_found_hint, without_query
from haystack_integrations.common.jina.errors import JinaConnectionError, JinaError, JinaTimeoutError
from haystack_integrations.common.jina.http.answer import Answer
from haystack_integrations.common.jina.http.body import JsonBody
from haystack_integrations.common.jina.http.reading import ACCEPT_ENCODING, read_body
from haystack_integrations.common.jina.redaction import redact

#: Redirects followed per request; more is a loop, reported and never retried.
MAX_REDIRECTS = 5


@dataclass
class Request:
    """
    One request as it goes on the wire.

    :param endpoint: The URL without its query, for messages.
    :param headers: Every header, `Authorization` included (the transport redacts the key from its errors).
    :param content: The encoded body, if any.
    :param follow_redirects: Follow a same-origin redirect (`False`: return the 3xx answer as it is).
    :param timeout: Seconds for the whole exchange, redirects included, connect to last byte.
    :param max_response_bytes: The largest (decompressed) body read; a larger one is refused while streaming.
    """

    method: str
    url: str
    endpoint: str
    headers: CIMultiDict[str]
    content: bytes | JsonBody | None
    follow_redirects: bool
    timeout: float
    max_response_bytes: int


class Transport(Protocol):
    """What the client needs from a transport. Everything runs on the request loop but `opened`."""

    @property
    def opened(self) -> bool:
        """Whether it holds connections to close."""

    def open(self) -> None:
        """Get ready to send (idempotent)."""

    async def handle(self, request: Request) -> Answer:
        """
        Send `request` and return the answer, whatever its status.

        :raises JinaTimeoutError: No complete answer within `request.timeout`.
        :raises JinaConnectionError: The connection failed or broke.
        :raises JinaError: A redirect this client does not follow, or a body over the size limit.
        :raises ValueError: The URL cannot be requested at all (a bad `base_url`).
        """

    async def aclose(self) -> None:
        """Close the connections (idempotent)."""


class MockTransport:
    """A transport whose answers come from `handler(request)` (maybe awaitable): for tests of the client itself."""

    def __init__(self, handler: Callable[[Request], Answer | Awaitable[Answer]]) -> None:
        self._handler = handler
        self.opened = False

    def open(self) -> None:
        self.opened = True

    async def handle(self, request: Request) -> Answer:
        self.open()
        answer = self._handler(request)
        return await answer if isinstance(answer, Awaitable) else answer

    async def aclose(self) -> None:
        self.opened = False


class AiohttpTransport:
    """The keep-alive `aiohttp` session, made on the request loop on first use."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    @property
    def opened(self) -> bool:
        return self.session is not None and not self.session.closed

    def open(self) -> None:
        if not self.opened:
            connector = aiohttp.TCPConnector(limit=0, ssl=_ssl_context(), enable_cleanup_closed=False)
            # no trust_env: aiohttp would read the proxy variables and ~/.netrc again on every request (most of
            # its CPU at hundreds of requests); `_proxy_for` reads them once per host. No cookies are kept.
            # no auto_decompress: `read_body` decompresses, checking the size as it grows (reading.py).
            self.session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
            self._proxies = {}
            engine.close_with(self, self.session)  # closed on the loop even if nobody calls close()

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def handle(self, request: Request) -> Answer:
        """Send, follow redirects, read the whole answer; within `timeout`, else `JinaTimeoutError`."""
        self.open()
        endpoint = request.endpoint
        try:
            async with asyncio.timeout(request.timeout) if hasattr(asyncio, "timeout") else _timeout(request.timeout):
                url = request.url
                for _ in range(MAX_REDIRECTS + 1):
                    answer = await self._exchange(request, url)
                    if not (request.follow_redirects and answer.is_redirect):
                        return answer
                    url = _redirect_target(answer, url, request.method, endpoint)
                raise JinaError(
                    f"Jina API redirected more than {MAX_REDIRECTS} times (a redirect loop?) from {endpoint}; "
                    f"last Location: {without_query(url)}",
                    status_code=answer.status_code,
                    endpoint=endpoint,
                )
        except TimeoutError:
            msg = f"Jina API did not answer within {request.timeout} s: {endpoint}"
            raise JinaTimeoutError(msg, endpoint=endpoint) from None
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            msg = f"Cannot request {endpoint}: not a valid URL ({type(exc).__name__}). {not_found_hint(endpoint)}"
            raise ValueError(msg) from None
        except (aiohttp.ClientError, aiohttp.http_exceptions.HttpProcessingError, OSError) as exc:
            text = redact(f"{type(exc).__name__}: {exc}", request.headers.get("Authorization"))[:300]
            msg = f"Could not reach the Jina API at {endpoint}: {text}"
            error = JinaConnectionError(msg, endpoint=endpoint)
            error.before_sending = isinstance(exc, aiohttp.ClientConnectorError)  # no connection: nothing sent
            raise error from None

    async def _exchange(self, request: Request, url: str) -> Answer:
        session = self.session
        assert session is not None
        data = request.content
        headers = request.headers.copy()
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # what `read_body` decompresses
        try:
            async with session.request(
                request.method,
                yarl.URL(url, encoded=True),
                data=data.stream() if isinstance(data, JsonBody) else data,
                headers=headers,
                allow_redirects=False,
                proxy=self._proxy_for(url),
            ) as response:
                content = await read_body(response, request.max_response_bytes, without_query(url))
                # the body as sent: a key in it is scanned for only where it is quoted in an error (redaction.py)
                return Answer(response.status, response.headers, content, url, response.reason or "")
        except RuntimeError:
            if not session.closed:
                raise
            # aiohttp's "Session is closed" / "Connection closed.": a connection error, retried on a new session
            raise aiohttp.ClientConnectionError("the client was closed while this request was in flight") from None

    def _proxy_for(self, url: str) -> str | None:
        """The proxy `HTTP(S)_PROXY` / `NO_PROXY` give for `url`'s host, as requests reads them; once per host."""
        scheme, netloc = urlsplit(url)[:2]
        origin = f"{scheme}://{netloc}"
        if origin not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            bypass = urllib.request.proxy_bypass_environment(netloc, proxies)  # type: ignore[attr-defined]
            self._proxies[origin] = None if bypass else proxies.get(scheme)
        return self._proxies[origin]


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
