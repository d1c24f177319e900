from __future__ import annotations

import asyncio
import logging
import time

import pytest
from haystack.utils import Secret

from haystack_integrations.common.jina import engine
from haystack_integrations.common.jina.batches import gather_ordered
from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import (
    JinaAuthenticationError,
    JinaBadRequestError,
    JinaConnectionError,
    JinaError,
    JinaMalformedResponseError,
    JinaMissingKeyError,
    JinaQuotaError,
    JinaRateLimitError,
    JinaTimeoutError,
)
from haystack_integrations.testing.jina import JinaEmulator

BODY = {"model": "jina-embeddings-v3", "input": ["hello"]}


def make_client(api_key: Secret, **kwargs: object) -> JinaClient:
    return JinaClient(api_key, **kwargs)  # type: ignore[arg-type]


def test_missing_key_fails_at_open_naming_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    client = JinaClient(Secret.from_env_var("JINA_API_KEY"))  # settings only: no key needed yet
    for _ in range(2):  # fails each time, not once
        with pytest.raises(JinaMissingKeyError, match="JINA_API_KEY") as info:
            client.open()
        assert isinstance(info.value, ValueError)  # what the published package (via Secret) raised
    assert not client.is_open


def test_env_fallbacks_for_timeout_and_retries(monkeypatch: pytest.MonkeyPatch, api_key: Secret) -> None:
    monkeypatch.setenv("JINA_TIMEOUT", "7.5")
    monkeypatch.setenv("JINA_MAX_RETRIES", "2")
    client = make_client(api_key)
    assert (client.timeout, client.max_retries) == (7.5, 2)
    explicit = make_client(api_key, timeout=3, max_retries=0)
    assert (explicit.timeout, explicit.max_retries) == (3.0, 0)


def test_sends_bearer_key_and_user_agent(emulator: JinaEmulator, api_key: Secret) -> None:
    make_client(api_key).post_json(emulator.embeddings_url, BODY)
    (request,) = emulator.requests
    assert request.header("Authorization") == f"Bearer {emulator.api_key}"
    assert request.header("User-Agent", "").startswith("jina-haystack/")


def test_wrong_key_is_authentication_error_without_retry_or_key(emulator: JinaEmulator) -> None:
    client = make_client(Secret.from_token("sk-wrong-secret-123"), max_retries=3)
    with pytest.raises(JinaAuthenticationError) as info:
        client.post_json(emulator.embeddings_url, BODY)
    assert len(emulator.requests) == 1
    assert info.value.status_code == 401
    assert "401" in str(info.value) and emulator.embeddings_url in str(info.value)
    assert "sk-wrong-secret-123" not in str(info.value) and "sk-wrong-secret-123" not in repr(client)
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(402, JinaQuotaError), (422, JinaBadRequestError), (400, JinaBadRequestError)],
)
def test_non_retryable_status_maps_to_error_class(
    emulator: JinaEmulator, api_key: Secret, status: int, error_type: type[JinaError]
) -> None:
    emulator.inject("status", status=status, detail="the server says why")
    with pytest.raises(error_type, match="the server says why") as info:
        make_client(api_key, max_retries=3).post_json(emulator.embeddings_url, BODY)
    assert info.value.status_code == status
    assert info.value.detail == "the server says why"
    assert len(emulator.requests) == 1


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_real_validation_error_carries_detail(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(JinaBadRequestError, match="Model 'nope' not found"):
        make_client(api_key).post_json(emulator.embeddings_url, {"model": "nope", "input": ["x"]})


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_is_retried(emulator: JinaEmulator, api_key: Secret, status: int) -> None:
    # a 429 for the request limit without Retry-After waits for the minute's window (tests/test_rate_limits.py)
    emulator.inject("status", status=status, times=2, **({"retry_after": 0} if status == 429 else {}))
    body = make_client(api_key, max_retries=3).post_json(emulator.embeddings_url, BODY)
    assert len(body["data"]) == 1
    assert len(emulator.requests) == 3


def test_retry_after_is_honoured(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=429, retry_after=0.4)
    start = time.perf_counter()
    make_client(api_key, max_retries=1).post_json(emulator.embeddings_url, BODY)
    assert time.perf_counter() - start >= 0.4
    assert len(emulator.requests) == 2


def test_rate_limit_after_retries_is_rate_limit_error(emulator: JinaEmulator, api_key: Secret) -> None:
    """A 429 that names no limit the pacer knows (here the IP's) spends the retry budget, as a 5xx does."""
    emulator.inject("status", status=429, code="RATE_IP_LIMIT_EXCEEDED", times=10, retry_after=0)
    with pytest.raises(JinaRateLimitError, match="429"):
        make_client(api_key, max_retries=2).post_json(emulator.embeddings_url, BODY)
    assert len(emulator.requests) == 3


def test_a_refusal_for_the_keys_rate_limit_spends_no_attempt(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: a 429 for the key's RPM is flow control: 4 of them in a row, then the answer, with 2 retries."""
    # the waits after a 0 s Retry-After (0.25 s, then doubling) are capped at a window; no progress fails after two
    monkeypatch.setenv("JINA_RATE_WINDOW", "3")
    emulator.inject("status", status=429, code="RATE_REQUEST_LIMIT_EXCEEDED", times=4, retry_after=0)
    assert make_client(api_key, max_retries=2).post_json(emulator.embeddings_url, BODY)["data"]
    assert len(emulator.requests) == 5


def test_dropped_connection_is_retried_then_reported(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("drop")
    assert make_client(api_key, max_retries=1).post_json(emulator.embeddings_url, BODY)["data"]
    emulator.inject("drop", times=5)
    with pytest.raises(JinaConnectionError, match="Could not reach"):
        make_client(api_key, max_retries=1).post_json(emulator.embeddings_url, BODY)


def test_unreachable_server_is_connection_error(api_key: Secret) -> None:
    with pytest.raises(JinaConnectionError):
        make_client(api_key, max_retries=0, timeout=2).post_json("http://127.0.0.1:9/v1/embeddings", BODY)


def test_slow_answer_is_timeout_error(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("latency", delay=1.0)
    with pytest.raises(JinaTimeoutError, match=r"0\.2 s"):
        make_client(api_key, max_retries=0, timeout=0.2).post_json(emulator.embeddings_url, BODY)


def test_body_that_is_not_json_is_malformed(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("malformed")
    with pytest.raises(JinaMalformedResponseError, match="not JSON"):
        make_client(api_key).post_json(emulator.embeddings_url, BODY)


def test_one_keep_alive_connection_across_calls(emulator: JinaEmulator, api_key: Secret) -> None:
    client = make_client(api_key)
    for _ in range(5):
        client.post_json(emulator.embeddings_url, BODY)
    assert emulator.connections == 1
    client.close()
    client.post_json(emulator.embeddings_url, BODY)
    assert emulator.connections == 2


def test_key_never_logged(emulator: JinaEmulator, api_key: Secret, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.inject("status", status=503, times=2)
    make_client(api_key, max_retries=3).post_json(emulator.embeddings_url, BODY)
    assert emulator.api_key not in caplog.text


def test_in_flight_requests_never_exceed_max_concurrency(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.2  # long enough that all 3 overlap even on a loaded machine
    client = make_client(api_key, max_concurrency=3)
    engine.run_sync(gather_ordered(lambda _: client.post_json_async(emulator.embeddings_url, BODY), range(12)))
    assert emulator.max_in_flight == 3


def test_rate_limited_requests_are_retried_until_every_item_succeeds(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.05
    client = make_client(api_key, max_concurrency=8, max_retries=10)
    emulator.inject("status", status=429, times=8, retry_after=0.05)
    engine.run_sync(gather_ordered(lambda _: client.post_json_async(emulator.embeddings_url, BODY), range(24)))
    assert len(emulator.requests) == 24 + 8  # every item succeeded after retries (pacing: tests/test_rate_limits.py)


async def test_gather_ordered_keeps_input_order_and_reports_each_item() -> None:
    done: list[int] = []

    async def slow_square(n: int) -> int:
        await asyncio.sleep(0.01 * (10 - n))
        return n * n

    assert await gather_ordered(slow_square, list(range(10)), on_done=done.append) == [n * n for n in range(10)]
    assert sorted(done) == list(range(10))
    assert done != list(range(10))  # they really finished out of order


async def test_gather_ordered_collects_or_raises_errors_and_cancels_the_rest() -> None:
    cancelled: list[int] = []

    async def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        try:
            await asyncio.sleep(0.01 if n < 3 else 5)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    results = await gather_ordered(fail_on_three, [0, 1, 2, 3], fail_fast=False)
    assert results[:3] == [0, 1, 2] and isinstance(results[3], ValueError)
    with pytest.raises(ValueError, match="three"):
        await gather_ordered(fail_on_three, list(range(6)))
    await asyncio.sleep(0)
    assert sorted(cancelled) == [0, 1, 2, 4, 5]  # fail fast: every other call still running stops at once


def test_proxy_environment_is_honoured(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxy variables are read once per host, with the same meaning requests gives them."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(JinaConnectionError):
        make_client(api_key, max_retries=0, timeout=2).post_json(emulator.embeddings_url, BODY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert make_client(api_key, max_retries=0).post_json(emulator.embeddings_url, BODY)["data"]
