"""Refusals that say too little: an unreadable `Retry-After` on an RPM 429, and a key that answers "51/50" forever.

In simulated time where it is the policy's decision; against the emulator over HTTP where it is about the wire.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from haystack.utils import Secret
from simulated_key import START

from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import JinaRateLimitError
from haystack_integrations.common.jina.pacing.limits import NO_PROGRESS_SECONDS
from haystack_integrations.common.jina.pacing.policy import Policy
from haystack_integrations.common.jina.pacing.refusals import FLOOR_DOUBLINGS
from haystack_integrations.common.jina.pacing.signals import (
    CONCURRENCY_LIMIT,
    REQUEST_LIMIT,
    Signals,
    read_signals,
)
from haystack_integrations.testing.jina import JinaEmulator

BODY = {"model": "jina-embeddings-v3", "input": ["hello"]}
PATH = "/v1/embeddings"
FULL = "Concurrency limit exceeded: 51/50 concurrent requests"


# ---------------------------------------------------------------------- an unreadable Retry-After
@pytest.mark.parametrize("value", ["soon", "NaN", "1e309", "inf"])
def test_an_unreadable_retry_after_is_flagged_apart_from_an_absent_one(value: str) -> None:
    unreadable = read_signals(429, {"Retry-After": value}, b'{"code": "RATE_REQUEST_LIMIT_EXCEEDED"}')
    assert unreadable.retry_after is None and unreadable.retry_after_unreadable
    absent = read_signals(429, {}, b'{"code": "RATE_REQUEST_LIMIT_EXCEEDED"}')
    assert absent.retry_after is None and not absent.retry_after_unreadable
    assert not read_signals(429, {"Retry-After": "2"}, b"").retry_after_unreadable


def _rpm_refusal(*, unreadable: bool) -> Signals:
    return Signals(429, REQUEST_LIMIT, None, remaining_requests=0, retry_after_unreadable=unreadable)


def _refused_once(policy: Policy, *, unreadable: bool) -> float:
    """One request of a fresh window refused for RPM at once: how long the policy waits before the next goes."""
    ticket = policy.sent(START, 1, 4, 0, PATH)
    policy.answered(START + 0.01, ticket, _rpm_refusal(unreadable=unreadable))
    decision = policy.decide(START + 0.01, 1, None)
    assert not decision.send and decision.until is not None
    return decision.until - START


def test_an_rpm_refusal_with_an_unreadable_retry_after_looks_again_soon_not_a_window_later() -> None:
    assert _refused_once(Policy(window=60.0, rng=random.Random(1)), unreadable=False) >= 59  # no header: the window
    policy = Policy(window=60.0, rng=random.Random(1))
    wait = _refused_once(policy, unreadable=True)
    assert wait <= 0.6  # the floor: 0.5 s, jittered
    now = START + wait
    assert policy.decide(now, 1, None).send  # one request looks
    ticket = policy.sent(now, 1, 4, 0, PATH)
    assert not policy.decide(now, 1, None).send  # the rest wait for its answer
    policy.answered(now + 0.1, ticket, Signals(200, remaining_requests=498))
    assert policy.decide(now + 0.1, 1, None).send  # the budget was not spent after all


def test_unreadable_retry_afters_in_a_row_wait_longer_then_the_window() -> None:
    """Bounded: the floor doubles (0.5 s to 8 s); once it stops growing, the window is waited out as without one."""
    policy = Policy(window=60.0, rng=random.Random(2))
    now, waits = START, []
    for _ in range(FLOOR_DOUBLINGS + 2):
        decision = policy.decide(now, 1, None)
        if not decision.send:
            assert decision.until is not None
            now = decision.until
            assert policy.decide(now, 1, None).send
        ticket = policy.sent(now, 1, 4, 0, PATH)
        policy.answered(now + 0.01, ticket, _rpm_refusal(unreadable=True))
        now += 0.01
        until = policy.decide(now, 1, None).until
        assert until is not None
        waits.append(until - now)
    assert waits[0] <= 0.6 and waits[FLOOR_DOUBLINGS - 1] <= 8.0 and waits[0] < waits[FLOOR_DOUBLINGS - 1]
    assert waits[-1] > 30  # the window's end (it opened with the first request, about 16 s before)


def test_an_rpm_429_with_an_unreadable_retry_after_is_retried_within_a_second(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    """Over HTTP: before, `Retry-After: soon` on an RPM 429 held the key for the whole 60 s window."""
    emulator.inject("status", status=429, code=REQUEST_LIMIT, retry_after="soon", detail="Request rate limit")
    start = time.monotonic()
    assert JinaClient(api_key, max_retries=0).post_json(emulator.embeddings_url, BODY)["data"]
    assert time.monotonic() - start < 3.0
    assert len(emulator.requests) == 2


# ---------------------------------------------------------------------- "51/50" forever
def _full_key_refusal(remaining: int | None = None) -> Signals:
    return Signals(429, CONCURRENCY_LIMIT, remaining_requests=remaining, concurrency_limit=50, concurrency_current=51)


def _call_against(answer: Callable[[int], Signals], window: float, horizon: float) -> tuple[float | None, list[float]]:
    """
    One call retried as `JinaClient` does while `refusal_verdict` allows it, every answer a refusal (`answer(n)` for
    the n-th): when it gave up (`None`: not within `horizon` seconds) and when each request went.
    """
    policy = Policy(window=window, rng=random.Random(3))
    now, since, sent = START, None, []
    while now < START + horizon:
        decision = policy.decide(now, 1, None)
        if not decision.send:
            assert decision.until is not None
            now = max(decision.until, now + 0.001)
            continue
        ticket = policy.sent(now, 1, 4, 0, PATH)
        sent.append(now)
        now += 0.005  # a refusal comes back at once
        policy.answered(now, ticket, answer(len(sent)))
        since = now if since is None else since
        if policy.refusal_verdict(now, since) is not None:
            return now - START, sent
    return None, sent


def test_a_key_that_answers_51_of_50_forever_fails_the_call_after_the_no_progress_deadline_not_ten_windows() -> None:
    gave_up, sent = _call_against(lambda _: _full_key_refusal(), window=60.0, horizon=700.0)
    assert gave_up is not None and NO_PROGRESS_SECONDS <= gave_up <= NO_PROGRESS_SECONDS + 10  # was 600 s
    late = [t for t in sent if t >= START + 20]
    assert len(late) / (gave_up - 20) < 0.5  # backs off (at most 8 s apart at the end), does not hammer


def test_refusals_whose_figures_move_still_show_the_key_serving_others() -> None:
    """The key's remaining requests fall between refusals: others are served; the call keeps retrying for free."""
    gave_up, _ = _call_against(lambda n: _full_key_refusal(remaining=10_000 - n), window=60.0, horizon=300.0)
    assert gave_up is None


def test_over_http_a_key_that_answers_51_of_50_forever_fails_within_the_deadline(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 3 s window: the no-progress deadline is 6 s (it was the ten-window cap, 30 s), and the retries back off."""
    monkeypatch.setenv("JINA_RATE_WINDOW", "3")
    emulator.inject("status", status=429, code=CONCURRENCY_LIMIT, detail=FULL, times=10_000)
    start = time.monotonic()
    with pytest.raises(JinaRateLimitError, match="succeeded"):
        JinaClient(api_key, max_retries=5).post_json(emulator.embeddings_url, BODY)
    assert time.monotonic() - start < 15.0
    assert len(emulator.requests) < 60
