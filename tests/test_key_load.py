"""The key's load read from its `X-RateLimit-Remaining-Requests` figures, and what the policy does with it (pure)."""

from __future__ import annotations

import heapq
import random

import pytest

from haystack_integrations.common.jina.pacing.key_load import KeyLoad
from haystack_integrations.common.jina.pacing.limits import Limits
from haystack_integrations.common.jina.pacing.policy import WAIT_FOR_ANSWER, Policy, Ticket
from haystack_integrations.common.jina.pacing.signals import CONCURRENCY_LIMIT, Signals
from haystack_integrations.common.jina.pacing.timing import AnswerTime

PATH = "/v1/embeddings"


def one_second_answers() -> AnswerTime:
    timing = AnswerTime(60.0, random.Random(1))
    timing.served(1.0)
    return timing


def heard_falling(load: KeyLoad, *, start: float, seconds: float, per_second: float, remaining: int) -> float:
    """Served answers every 0.1 s while the key's figure falls by `per_second`; the time of the last."""
    now, left = start, float(remaining)
    while now < start + seconds:
        load.heard(now, round(left), served=True)
        now += 0.1
        left -= per_second / 10
    return now - 0.1


@pytest.mark.parametrize("per_second", [12.0, 50.0])
def test_the_keys_requests_in_flight_follow_from_how_fast_its_figure_falls(per_second: float) -> None:
    """Little's law: 50 requests a second of one second each is 50 in flight (ours and others' alike)."""
    load = KeyLoad(one_second_answers())
    last = heard_falling(load, start=10.0, seconds=3.0, per_second=per_second, remaining=1_000_000)
    estimate = load.in_flight(last, 60.0)
    assert estimate is not None
    assert estimate == pytest.approx(per_second, rel=0.1)


def test_no_estimate_before_our_first_served_answer_from_too_short_a_span_or_from_old_figures() -> None:
    load = KeyLoad(one_second_answers())
    for step in range(30):  # refusals (their figures are the key's too, but how long an answer takes is unknown)
        load.heard(10.0 + step / 10, 1_000_000 - 5 * step, served=False)
    assert load.in_flight(13.0, 60.0) is None
    load.heard(13.0, 999_000, served=True)
    load.heard(13.2, 998_990, served=True)
    assert load.in_flight(13.2, 60.0) is None  # 0.2 s of figures say too little
    last = heard_falling(load, start=13.4, seconds=2.0, per_second=50.0, remaining=998_980)
    assert load.in_flight(last, 60.0) is not None
    assert load.in_flight(last + 1.5, 60.0) is None  # no answer for longer than one takes: it may all have changed


def test_a_rising_figure_is_a_new_window_whose_count_starts_again() -> None:
    load = KeyLoad(one_second_answers())
    last = heard_falling(load, start=10.0, seconds=3.0, per_second=50.0, remaining=500_000)
    assert load.in_flight(last, 60.0) is not None
    load.heard(last + 0.1, 1_000_000, served=True)  # the window turned over: not 500,000 requests "added"
    assert load.in_flight(last + 0.1, 60.0) is None
    later = heard_falling(load, start=last + 0.2, seconds=2.0, per_second=20.0, remaining=999_998)
    assert load.in_flight(later, 60.0) == pytest.approx(20.0, rel=0.1)


def test_no_estimate_while_the_per_minute_budget_could_run_out_before_its_window_closes() -> None:
    """Then room in flight is the budget's to give, not the key's: the RPM / TPM pacing decides."""
    load = KeyLoad(one_second_answers())
    last = heard_falling(load, start=10.0, seconds=3.0, per_second=50.0, remaining=1500)  # about 1,350 left
    assert load.in_flight(last, 60.0) is None  # 50 a second for a minute is 3,000
    assert load.in_flight(last, 20.0) == pytest.approx(50.0, rel=0.1)  # the window closes in 20 s: 1,000


def run_cut_share(others_per_second: float) -> tuple[int, int]:
    """
    A process stated the key's 50, others took most of it: 38 of its first 50 were refused. Then each of its
    requests takes about a second, and the others send `others_per_second` (a second each too). Its bound after
    the cut, and 6 s later (the probes would have added one slot, or none: one per 5-10 answers).
    """
    policy = Policy(Limits(concurrency=50), window=60.0, rng=random.Random(2))
    now, remaining = 100.0, 1_000_000.0
    answers: list[tuple[float, int, Ticket]] = []
    for count in range(50):
        ticket = policy.sent(now, 10, 40, 0, PATH)
        if count < 12:  # admitted; their answers spread over the next second (latencies vary)
            heapq.heappush(answers, (now + 1.0 + count / 12, count, ticket))
            remaining -= 1
    for ticket in [t for t in policy.tickets if all(t is not a[2] for a in answers)]:
        refusal = Signals(429, CONCURRENCY_LIMIT, None, round(remaining), None, 50, concurrency_current=51)
        policy.answered(now + 0.01, ticket, refusal)
    cut = policy.bound(None)
    count = 50
    while answers and answers[0][0] <= 106.01:
        now, _, ticket = heapq.heappop(answers)
        remaining -= others_per_second / policy.bound(None) if others_per_second else 0.0  # theirs, meanwhile
        policy.answered(now, ticket, Signals(200, None, None, round(remaining), None, tokens_used=10))
        while policy.decide(now, 10, None).send:
            count += 1
            heapq.heappush(answers, (now + 1.0, count, policy.sent(now, 10, 40, 0, PATH)))
            remaining -= 1
    return cut, policy.bound(None)


def test_a_share_cut_by_refusals_grows_into_the_room_the_keys_figures_show() -> None:
    """The others are done: the figure falls at our own pace alone, and the room is taken in a few answers."""
    cut, after = run_cut_share(others_per_second=0.0)
    assert cut <= 12 < 40 <= after


def test_a_key_the_others_keep_full_shows_no_room_and_the_share_stays() -> None:
    cut, after = run_cut_share(others_per_second=38.0)
    assert after <= cut + 1


@pytest.mark.parametrize(("left", "holds"), [(900_000, False), (3, True)])
def test_a_guessed_window_turn_holds_requests_back_only_if_the_last_window_had_little_left(
    left: int, holds: bool
) -> None:
    """
    Our next window's start is a guess; if the server's has not turned yet, what the last one had left is what a
    burst can spend. Plenty left: nothing waits for the new window's first answer (before: every window's turn
    drained our requests in flight to one, an answer's time or two each minute).
    """
    policy = Policy(window=10.0, rng=random.Random(3))
    now = 100.0
    first = [policy.sent(now, 10, 40, 0, PATH) for _ in range(3)]
    for ticket in first:
        now += 0.5
        policy.answered(now, ticket, Signals(200, None, None, left, None, tokens_used=10))
    now = 111.0  # our window (opened at 100) has closed: a new one is guessed
    assert policy.decide(now, 10, None).send
    policy.sent(now, 10, 40, 0, PATH)  # one in flight, of the new window, not answered yet
    decision = policy.decide(now, 10, None)
    assert (decision == WAIT_FOR_ANSWER) is holds


def test_an_answer_overtaken_on_the_way_is_not_a_new_window() -> None:
    """Answers come on several connections: an older, higher figure may arrive after a newer one."""
    load = KeyLoad(one_second_answers())
    last = heard_falling(load, start=10.0, seconds=3.0, per_second=50.0, remaining=1_000_000)
    before = load.in_flight(last, 60.0)
    load.heard(last + 0.01, 1_000_000 - 140, served=True)  # left the server 0.2 s before the last one
    assert load.in_flight(last + 0.01, 60.0) == pytest.approx(before, rel=0.1)


def test_figures_of_refusals_alone_say_nothing() -> None:
    """
    A figure that did not move over a span without a served answer of ours could not be checked against our own
    requests: frozen figures on refusals alone read as an idle key (16 processes on a key whose figures never
    move: 5.0-5.5% refusals in simulation, 4.4-4.8% now, as with honest figures).
    """
    load = KeyLoad(one_second_answers())
    heard_falling(load, start=10.0, seconds=1.0, per_second=20.0, remaining=1_000)  # served: samples start
    now = 20.0
    while now < 21.5:  # then only refusals, the figure frozen
        load.heard(now, 900, served=False)
        now += 0.1
    assert load.in_flight(now - 0.1, 60.0) is None


def test_a_figure_that_does_not_fall_with_our_own_requests_is_not_the_keys() -> None:
    """Frozen, or made up: it says nothing (else a process would read an idle key and be refused again and again)."""
    load = KeyLoad(one_second_answers())
    last = heard_falling(load, start=10.0, seconds=3.0, per_second=0.0, remaining=1_000_000)
    assert load.in_flight(last, 60.0) is None
    last = heard_falling(
        load, start=last + 0.1, seconds=3.0, per_second=2.0, remaining=999_000
    )  # we were served 10 a second
    assert load.in_flight(last, 60.0) is None
