"""A randomized model test of the pacer: random answers, header values, Retry-After values, 429 codes,
latencies and cancellations, then a healthy server. The invariants the client relies on:

- no slot is ever lost: in flight returns to 0 and nobody is left waiting;
- nothing but the caller's own cancellation leaves `acquire`, and `release` never raises;
- no pause is longer than the cap;
- once the server is healthy, the bound is back to at least 90% of what was stated within a few windows.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from haystack_integrations.common.jina import ratelimit
from haystack_integrations.common.jina.pacing.signals import read_signals

WINDOW = 0.05
CAP = 20  # the component's stated max_concurrency
URL = "https://api.jina.ai/v1/embeddings"

odd_figures = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**6).map(str),
    st.sampled_from(["\u00b2", "-5", "NaN", "inf", "1e400", "9" * 401, "", " 12 ", "0x10"]),
)
retry_afters = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=0.2).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["inf", "1e400", "-1", "NaN", "3600", "1e12", "Wed, 21 Oct 2099 07:28:00 GMT", "\u00b2"]),
)
codes = st.sampled_from(
    [ratelimit.CONCURRENCY_LIMIT, ratelimit.REQUEST_LIMIT, ratelimit.TOKEN_LIMIT, "RATE_IP_LIMIT_EXCEEDED", None]
)


@dataclass
class FakeAnswer:
    status_code: int
    content: bytes = b""
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)


@st.composite
def answers(draw: st.DrawFn) -> FakeAnswer | str | None:
    kind = draw(st.sampled_from(["ok", "ok", "429", "500", "none", "cancel"]))
    if kind == "none":
        return None  # the connection broke: no answer
    if kind == "cancel":
        return "cancel"
    headers: CIMultiDict[str] = CIMultiDict()
    for name in ("X-RateLimit-Remaining-Requests", "X-RateLimit-Remaining-Tokens"):
        value = draw(odd_figures)
        if value is not None:
            headers[name] = value
    if kind == "ok":
        usage = draw(st.sampled_from(["12", "9" * 401, "-3", '"x"']))
        return FakeAnswer(200, b'{"usage": {"total_tokens": ' + usage.encode() + b"}}", headers)
    if kind == "500":
        return FakeAnswer(500, b"{}", headers)
    code = draw(codes)
    retry_after = draw(retry_afters)
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    detail = draw(st.sampled_from(["", "Concurrency limit exceeded: 7/3 concurrent requests", "0/0 concurrent"]))
    body = b'{"detail": "' + detail.encode() + b'"' + (b', "code": "' + code.encode() + b'"' if code else b"") + b"}"
    if draw(st.booleans()):
        body = b'{"a":' * 50_000 + b"1" + b"}" * 50_000  # deep enough to break a recursive parser
    return FakeAnswer(429, body, headers)


async def one_request(limiter: ratelimit.RateLimiter, answer: FakeAnswer | str | None, latency: float) -> None:
    try:
        ticket = await limiter.acquire(URL, {"input": ["some text"] * 3}, CAP)
    except asyncio.CancelledError:
        return
    try:
        await asyncio.sleep(latency)
    finally:
        given = None if answer is None or isinstance(answer, str) else answer
        signals = None if given is None else read_signals(given.status_code, given.headers, given.content)
        limiter.release(ticket, signals)


async def scenario(script: list[tuple[FakeAnswer | str | None, float]]) -> None:
    limiter = ratelimit.RateLimiter("https://api.jina.ai", window=WINDOW)
    loop = asyncio.get_running_loop()
    tasks = []
    for answer, latency in script:
        task = asyncio.ensure_future(one_request(limiter, answer, latency))
        tasks.append(task)
        if answer == "cancel":
            loop.call_later(latency / 2, task.cancel)
        assert limiter._paused_until - loop.time() <= ratelimit.MAX_RETRY_AFTER + 1e-6
        await asyncio.sleep(0)
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
    assert all(o is None or isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes
    assert limiter.in_flight == 0 and not limiter._waiters and not limiter._tickets

    # The server is healthy now: sane figures, no refusals. Within a few windows the bound is back.
    healthy = CIMultiDict({"X-RateLimit-Remaining-Requests": "4000", "X-RateLimit-Remaining-Tokens": "9000000"})
    deadline = loop.time() + 8 * WINDOW + ratelimit.MAX_RETRY_AFTER

    def allowed() -> int:  # what the component may have in flight: its cap, unless the key's bound is lower
        return min(CAP, limiter.bound(CAP))

    while loop.time() < deadline and allowed() < 0.9 * CAP:
        batch = [one_request(limiter, FakeAnswer(200, b"{}", healthy), 0.002) for _ in range(allowed())]
        await asyncio.gather(*batch)
    assert allowed() >= 0.9 * CAP
    assert limiter.in_flight == 0


@pytest.fixture(autouse=True)
def short_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_RETRY_AFTER", 0.2)  # the cap, scaled to the test's 50 ms windows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(answers(), st.floats(min_value=0.0, max_value=0.03)), min_size=1, max_size=40))
def test_the_pacer_never_loses_a_slot_and_recovers(script: list[tuple[FakeAnswer | str | None, float]]) -> None:
    random.seed(0)
    asyncio.run(scenario(script))
