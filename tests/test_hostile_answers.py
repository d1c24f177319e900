"""Nothing a server sends can wedge the client: odd rate-limit figures, odd Retry-After values, deep JSON,
redirects, interim answers and error bodies that quote the key. Every answer comes from a raw socket server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, head, request_body

from haystack_integrations.common.jina import engine, ratelimit
from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaError, JinaRateLimitError
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

KEY = "jina_hostile_test_key_0123456789"
BODY = {"model": "jina-embeddings-v3", "input": ["one two"]}


def vectors_for(request: bytes) -> bytes:
    count = len(request_body(request)["input"])
    data = [{"object": "embedding", "index": i, "embedding": [0.5, 0.25]} for i in range(count)]
    return json.dumps({"model": "m", "object": "list", "usage": {"total_tokens": 2}, "data": data}).encode()


def reply(status: int, payload: bytes, extra: str = "") -> bytes:
    return head(status, len(payload), extra) + payload


def client_for(server: HostileServer, **options: Any) -> JinaClient:
    return JinaClient(Secret.from_token(KEY), **{"max_retries": 2, "timeout": 10, **options})


def limiter_of(server: HostileServer) -> ratelimit.RateLimiter:
    return ratelimit.limiter_for(f"Bearer {KEY}", server.url)


def settled(client: JinaClient, server: HostileServer) -> bool:
    """No slot of the client or the key is left taken."""

    async def look() -> bool:
        slots = client._component_slots()
        return limiter_of(server).in_flight == 0 and (slots is None or not slots.locked())

    return engine.run_sync(look())


@pytest.mark.parametrize(
    "headers",
    [
        "X-RateLimit-Remaining-Requests: \u00b2\r\n",  # a non-ASCII digit
        f"X-RateLimit-Remaining-Tokens: {'9' * 401}\r\n",
        "X-RateLimit-Remaining-Requests: -5\r\nX-RateLimit-Remaining-Tokens: NaN\r\n",
        "X-RateLimit-Remaining-Requests: 0x10\r\nX-RateLimit-Remaining-Tokens: 1e400\r\n",
    ],
)
def test_odd_rate_limit_figures_are_ignored(headers: str) -> None:
    def behaviour(conn: socket.socket, request: bytes) -> None:
        payload = vectors_for(request).replace(b'"total_tokens": 2', b'"total_tokens": ' + b"7" * 401)
        conn.sendall(reply(200, payload, headers.encode("latin-1").decode("latin-1")))

    with HostileServer(behaviour) as server:
        client = client_for(server, max_concurrency=2)
        for _ in range(8):  # more than the slots: a lost slot would hang here
            assert client.post_json(server.url, BODY)["data"]
        assert settled(client, server)


def test_a_429_nested_200000_deep_is_a_rate_limit_error_and_frees_the_slot() -> None:
    deep = b'{"a":' * 200_000 + b"1" + b"}" * 200_000

    def behaviour(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(reply(429, deep))

    with HostileServer(behaviour) as server:
        client = client_for(server, max_concurrency=1, max_retries=1)
        for _ in range(3):
            with pytest.raises(JinaRateLimitError):
                client.post_json(server.url, BODY)
        assert settled(client, server)


PAST = formatdate(time.time() - 30, usegmt=True)


@pytest.mark.parametrize("value", ["inf", "1e400", "-5", "NaN", "\u00b2", "soon", PAST])
def test_unusable_or_past_retry_after_values_do_not_stop_the_key(value: str) -> None:
    answers = iter([429, 200, 429, 200])

    def behaviour(conn: socket.socket, request: bytes) -> None:
        if next(answers, 200) == 429:
            payload = b'{"detail": "slow down"}'
            conn.sendall(reply(429, payload, f"Retry-After: {value}\r\n".encode().decode("latin-1")))
        else:
            conn.sendall(reply(200, vectors_for(request)))

    with HostileServer(behaviour) as server:
        client = client_for(server)
        start = time.monotonic()
        for _ in range(2):
            assert client.post_json(server.url, BODY)["data"]
        assert time.monotonic() - start < 10  # backoff, not an hour, and no OverflowError for later calls
        assert settled(client, server)


@pytest.mark.parametrize("future", [3600.0, 1e9])
def test_a_long_http_date_retry_after_fails_the_call_naming_it(future: float) -> None:
    date = formatdate(min(time.time() + future, 253402300799), usegmt=True)

    def behaviour(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(reply(429, b'{"detail": "later"}', f"Retry-After: {date}\r\n"))

    with HostileServer(behaviour) as server:
        client = client_for(server)
        start = time.monotonic()
        with pytest.raises(JinaRateLimitError) as info:
            client.post_json(server.url, BODY)
        assert time.monotonic() - start < 5 and server.requests == 1
        assert date in str(info.value)
        held = engine.run_sync(_pause_left(limiter_of(server)))
        assert held <= ratelimit.MAX_RETRY_AFTER + 0.01  # the key is held at most the cap


async def _pause_left(limiter: ratelimit.RateLimiter) -> float:
    import asyncio

    return limiter._paused_until - asyncio.get_running_loop().time()


def test_a_307_re_sends_the_body_to_the_new_place() -> None:
    bodies: list[Any] = []

    def behaviour(conn: socket.socket, request: bytes) -> None:
        bodies.append(request_body(request))
        if request.startswith(b"POST /v1/embeddings "):
            conn.sendall(reply(307, b"", "Location: /v2/embeddings\r\n"))
        else:
            conn.sendall(reply(200, vectors_for(request)))

    with HostileServer(behaviour) as server:
        answer = client_for(server).post_json(server.url, BODY)
        assert answer["data"] and bodies == [BODY, BODY]


def test_a_redirect_loop_fails_at_once_and_is_not_retried() -> None:
    def behaviour(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(reply(308, b"", "Location: /v1/embeddings\r\n"))

    with HostileServer(behaviour) as server:
        with pytest.raises(JinaError, match="redirect"):
            client_for(server, max_retries=5).post_json(server.url, BODY)
        assert server.requests <= 6  # one call's redirects, no retries of them


def test_a_redirect_to_another_origin_is_not_followed_with_the_key() -> None:
    elsewhere_requests: list[bytes] = []
    with HostileServer(lambda c, r: (elsewhere_requests.append(r), c.sendall(reply(200, vectors_for(r))))) as other:

        def behaviour(conn: socket.socket, _request: bytes) -> None:
            conn.sendall(reply(307, b"", f"Location: {other.url}\r\n"))

        with HostileServer(behaviour) as server:
            with pytest.raises(JinaError, match="another origin") as info:
                client_for(server).post_json(server.url, BODY)
            assert other.url.split("/v1")[0] in str(info.value)
    assert elsewhere_requests == []


def test_an_interim_answer_is_skipped() -> None:
    def behaviour(conn: socket.socket, request: bytes) -> None:
        interim = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        conn.sendall(interim + reply(200, vectors_for(request)))

    with HostileServer(behaviour) as server:
        assert client_for(server).post_json(server.url, BODY)["data"]


def test_an_error_body_quoting_the_key_has_it_redacted(caplog: pytest.LogCaptureFixture) -> None:
    def behaviour(conn: socket.socket, request: bytes) -> None:
        echoed = request.partition(b"\r\n\r\n")[0].decode("latin-1").replace("\r\n", " | ")
        conn.sendall(reply(400, json.dumps({"detail": f"bad request, you sent: {echoed}"}).encode()))

    documents = [Document(content="one"), Document(content="two")]
    with HostileServer(behaviour) as server:
        with pytest.raises(JinaBadRequestError) as info:
            client_for(server).post_json(server.url, BODY)
        assert KEY not in str(info.value) and "***" in str(info.value)
        embedder = JinaDocumentEmbedder(
            api_key=Secret.from_token(KEY), base_url=server.url, raise_on_failure=False, progress_bar=False
        )
        result = embedder.run(documents)
    assert result["meta"]["failed_documents"] and KEY not in json.dumps(result["meta"])
    assert KEY not in caplog.text


def test_every_document_comes_back_when_answers_are_hostile() -> None:
    """With raise_on_failure=False, odd answers fail their documents; nothing else escapes."""
    behaviours: list[Callable[[socket.socket, bytes], None]] = [
        lambda c, r: c.sendall(reply(200, b'{"data": [' * 100_000)),
        lambda c, r: c.sendall(reply(429, b"{}", "Retry-After: 1e400\r\n")),
        lambda c, r: c.sendall(reply(200, vectors_for(r), "X-RateLimit-Remaining-Tokens: \u00b2\u00b2\r\n")),
        lambda c, r: c.close(),
    ]
    turn = iter(range(10_000))

    def behaviour(conn: socket.socket, request: bytes) -> None:
        behaviours[next(turn) % len(behaviours)](conn, request)

    with HostileServer(behaviour) as server:
        embedder = JinaDocumentEmbedder(
            api_key=Secret.from_token(KEY),
            base_url=server.url,
            raise_on_failure=False,
            progress_bar=False,
            batch_size=1,
            max_retries=0,
            max_concurrency=2,
        )
        documents = [Document(content=f"text {i}") for i in range(12)]
        result = embedder.run(documents)
        assert [d.id for d in result["documents"]] == [d.id for d in documents]
        failed = {f["id"] for f in result["meta"]["failed_documents"]}
        assert all((d.embedding is None) == (d.id in failed) for d in result["documents"])
        assert 0 < len(failed) < len(documents)
        assert settled(embedder._client, server)


def test_a_huge_usage_count_is_ignored_not_an_overflow() -> None:
    """`usage.total_tokens` with 401 digits: float() of it raises OverflowError; the count is dropped instead."""

    def behaviour(conn: socket.socket, request: bytes) -> None:
        payload = vectors_for(request).replace(b'"total_tokens": 2', b'"total_tokens": ' + b"9" * 401)
        conn.sendall(reply(200, payload))

    with HostileServer(behaviour) as server:
        embedder = JinaDocumentEmbedder(
            api_key=Secret.from_token(KEY), base_url=server.url, raise_on_failure=False, progress_bar=False
        )
        result = embedder.run([Document(content="one"), Document(content="two")])
    assert all(d.embedding for d in result["documents"]) and "total_tokens" not in result["meta"]["usage"]


def test_a_cut_or_encoded_copy_of_the_key_is_redacted_too() -> None:
    cut, encoded = KEY[:-4], KEY.replace("_", "%5F")

    def behaviour(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(reply(400, json.dumps({"detail": f"proxy saw {cut} and {encoded}"}).encode()))

    with HostileServer(behaviour) as server, pytest.raises(JinaBadRequestError) as info:
        client_for(server).post_json(server.url, BODY)
    assert KEY[5:20] not in str(info.value) and str(info.value).count("***") == 2


def test_a_redirect_without_location_is_an_error_saying_so() -> None:
    with HostileServer(lambda c, r: c.sendall(reply(307, b""))) as server:
        with pytest.raises(JinaError, match="redirect without a Location"):
            client_for(server).post_json(server.url, BODY)
        assert server.requests == 1  # not retried
