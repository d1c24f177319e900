"""A randomized model test of the pacing policy in simulated time: random answers, header values, Retry-After
values, 429 codes, latencies and cancellations, then a healthy server. The invariants the client relies on:

- no slot is ever lost: in flight returns to 0, and no decision waits for an answer that cannot come;
- `answered` never raises, whatever the answer says;
- no pause (nor the closing of the key by a long Retry-After) is longer than the cap;
- once the server is healthy, the bound is back to at least 90% of what was stated within a few windows.

(The asyncio side of the pacer, `acquire` / `release` and cancellation, is tested against real requests in
test_hardening_time.py and test_hostile_answers.py.)
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from haystack_integrations.common.jina.pacing.limits import MAX_RETRY_AFTER
from haystack_integrations.common.jina.pacing.policy import Policy, Ticket
from haystack_integrations.common.jina.pacing.signals import (
    CONCURRENCY_LIMIT,
    REQUEST_LIMIT,
    TOKEN_LIMIT,
    Signals,
    read_signals,
)

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
    st.floats(min_value=0, max_value=2.0).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["inf", "1e400", "-1", "NaN", "3600", "1e12", "Wed, 21 Oct 2099 07:28:00 GMT", "\u00b2"]),
)
codes = st.sampled_from([CONCURRENCY_LIMIT, REQUEST_LIMIT, TOKEN_LIMIT, "RATE_IP_LIMIT_EXCEEDED", None])


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


def scenario(script: list[tuple[FakeAnswer | str | None, float]]) -> None:
    """Drive the policy in simulated time: each scripted request goes when the policy lets it, then is answered."""
    policy = Policy(window=WINDOW, rng=random.Random(0))
    now = 1000.0
    answers: list[tuple[float, int, Ticket, Signals | None]] = []  # (when, order, ticket, answer), a heap
    order = 0
    pending = list(script)

    def check_pauses() -> None:
        assert policy.paused_until - now <= MAX_RETRY_AFTER + 1e-6
        assert policy.closed_until - now <= MAX_RETRY_AFTER + 1e-6

    def answer_next() -> None:
        nonlocal now
        when, _, ticket, signals = heapq.heappop(answers)
        now = max(now, when)
        policy.answered(now, ticket, signals)  # never raises
        check_pauses()

    while pending or answers:
        decision = policy.decide(now, policy.estimate(27, 0, "/v1/embeddings"), CAP) if pending else None
        check_pauses()
        if decision is not None and decision.send:
            answer, latency = pending.pop(0)
            ticket = policy.sent(now, policy.estimate(27, 0, "/v1/embeddings"), 27, 0, "/v1/embeddings")
            given = None if answer is None or isinstance(answer, str) else answer
            signals = None if given is None else read_signals(given.status_code, given.headers, given.content)
            # a cancelled call gives its slot back half way, with no answer
            heapq.heappush(answers, (now + (latency / 2 if answer == "cancel" else latency), order, ticket, signals))
            order += 1
        elif answers and (decision is None or decision.until is None or answers[0][0] <= decision.until):
            answer_next()
        else:
            assert decision is not None and decision.until is not None, "waiting for an answer that cannot come"
            assert decision.until - now <= MAX_RETRY_AFTER + 1e-6
            now = decision.until
    assert policy.in_flight == 0 and not policy.tickets  # no slot is lost

    # The server is healthy now: sane figures, no refusals. Within a few windows the bound is back.
    healthy = Signals(200, remaining_requests=4000, remaining_tokens=9_000_000, tokens_used=12)
    deadline = now + 8 * WINDOW + MAX_RETRY_AFTER

    def allowed() -> int:  # what the component may have in flight: its cap, unless the key's bound is lower
        return min(CAP, policy.bound(CAP))

    while now < deadline and allowed() < 0.9 * CAP:
        tickets = []
        while policy.decide(now, 3, CAP).send and len(tickets) < CAP:
            tickets.append(policy.sent(now, 3, 27, 0, "/v1/embeddings"))
        if not tickets:
            decision = policy.decide(now, 3, CAP)
            now = decision.until if decision.until is not None else now + 0.002
            continue
        now += 0.002
        for ticket in tickets:
            policy.answered(now, ticket, healthy)
    assert allowed() >= 0.9 * CAP
    assert policy.in_flight == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(answers(), st.floats(min_value=0.0, max_value=0.03)), min_size=1, max_size=40))
def test_the_pacer_never_loses_a_slot_and_recovers(script: list[tuple[FakeAnswer | str | None, float]]) -> None:
    scenario(script)
