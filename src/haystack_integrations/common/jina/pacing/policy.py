"""The pacing decisions for one key on one host, as a pure object: no asyncio, no clock, no parsing.

`Policy` is told the time with every call. Before a request, `decide` says what to do: send now, look again
at a given time, or wait until an answer comes. `sent` records a request, `answered` learns from what its
answer said (`Signals`, parsed elsewhere), and `refusal_verdict` tells a call refused for a rate limit whether
it may retry without spending an attempt. `pacer.py` does the waiting; the simulation test drives several
policies against a simulated key in simulated time.

The key's limits are shared by every process that uses it; each process paces itself from what the server
tells it, without talking to the others:

- Concurrency: what the user stated (a component's `max_concurrency`, or the concurrency of
  `JINA_RATE_LIMITS`) is the key's total and the ceiling, used from the first request. With nothing stated,
  5 (the Free tier's), then 6, then doubling after each full round without a refusal, up to 500; a refusal's
  "{current}/N" names the key's total, a ceiling for a window. A concurrency refusal lowers this process's
  share (multiplicative decrease with jitter: to 50-80% of what it had in flight, once per round; not below
  one request while it holds one). If the refusal counts others' requests in flight, the share then grows
  one slot per probe interval (5-10 answers' time, at most 0.3 of a window); if not (ours alone, a
  glitch), it grows back by a quarter a round to just below where it was refused. Once per probe interval a
  process at its level leaves one slot free for an answer's time, so a process that came later gets a slot
  and the holder a refusal: N processes settle near limit / N each without talking to each other. A refusal
  while none of ours is in flight lowers nothing at first (someone else holds the key): a short pause;
  three in a row lower the share below one request, sent one at a time with gaps.
- RPM / TPM: each request reserves 1 request and its estimated tokens from what the answers of the current
  window say is left (lowest figure wins). The `X-RateLimit-Remaining-*` figures are the key's, not this
  process's. A new window starts from the lower of the stated limit and what the last window was seen to
  hold; its first answer replaces that guess. When the budget is spent, requests wait for the next window
  instead of being refused; a lone "0 left" that our own count does not explain (another process spent it,
  or a glitch) holds the key for a probe interval at most, not a window. Token estimates come from the
  characters sent, calibrated by the `usage` of earlier answers.
- Windows: the reference does not say how they are placed. A window of the server's, whether opened by our
  first request or sitting on a fixed clock, closes at most `window` seconds (a minute; `JINA_RATE_WINDOW`
  overrides it) after our first request in it; a `Retry-After` says exactly when. A `Retry-After` of 0 or in
  the past waits a short jittered floor instead (a date has whole seconds). A refused request costs no budget
  (assumed).
- A `Retry-After` over `MAX_RETRY_AFTER` closes the key for that long at most: the call that got it and every
  other call that would send meanwhile fail at once, saying when to retry (the client), rather than stall.
- Refusals are flow control: a call refused for concurrency, RPM or TPM retries without spending an attempt
  while the key makes progress (a request of this process on it succeeded within `NO_PROGRESS_SECONDS`,
  two windows), for at most `MAX_REFUSED_SECONDS` (ten windows) in all.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from haystack_integrations.common.jina.pacing.limits import (
    IMAGE_TOKENS,
    INITIAL_TOKENS_PER_CHAR,
    MAX_CONCURRENCY,
    MAX_REFUSED_SECONDS,
    MAX_RETRY_AFTER,
    NO_PROGRESS_SECONDS,
    START_CONCURRENCY,
    WINDOW_SECONDS,
    Limits,
)
from haystack_integrations.common.jina.pacing.signals import CONCURRENCY_LIMIT, REQUEST_LIMIT, TOKEN_LIMIT, Signals

#: The lowest share of the key's concurrency a process goes down to: one request at a time, 1/8 of the time.
MIN_SHARE = 1 / 8
#: What a concurrency refusal leaves of the share it hit (drawn anew each time, so processes desynchronise).
DECREASE = (0.5, 0.8)
#: How often a share at its level tries one slot more, or leaves one free: this part of twenty answers' time (or
#: of 0.3 of a window, if less), drawn anew each time.
PROBE_INTERVAL = (0.5, 1.0)
PROBE_ANSWERS = 10
#: The shortest wait after a refusal whose `Retry-After` is 0 or past, before jitter (seconds).
RETRY_FLOOR = 0.5


@dataclass(eq=False)
class Ticket:
    """One request's claim on the key, from `sent` to `answered`."""

    window: int  # which of our windows it was sent in
    others: int  # our requests already in flight when it was sent
    tokens: int  # reserved (estimated) tokens
    chars: int
    images: int
    path: str
    sent_at: float = 0.0
    round: int = 0  # the share's generation when sent: a refusal lowers the share once per generation
    level: float = 1.0  # the share in use when sent


@dataclass(frozen=True)
class Decision:
    """What to do before sending: `send`, else look again at `until` (`None`: when an answer comes)."""

    send: bool
    until: float | None = None


SEND = Decision(send=True)
WAIT_FOR_ANSWER = Decision(send=False)


@dataclass
class Budget:
    """One per-minute budget (requests or tokens) as far as we know it."""

    limit: int | None = None  # stated by the user; never learned (a mid-window figure is not the limit)
    hint: float | None = None  # what the last window was seen to hold: where the next one starts, until told
    seen: float | None = None  # what the current window is seen to hold (the most of remaining + answered)
    left: float | None = None  # what is left of the current window; None: unknown, do not pace
    unsure: float = 0.0  # of `left`: what our requests in flight may not be counted in yet
    told: bool = False  # an answer of the current window said what is left
    answered: float = 0.0  # what our requests of the current window cost once answered
    doubted: bool = False  # a low figure was doubted once this window (see `doubt`)
    refused: bool = False  # a refusal of this window said it is spent

    def new_window(self) -> None:
        if self.seen is not None:
            self.hint = self.seen
        # a stated limit the last window was seen not to hold (a key shared, a tier stated too high) is not
        # trusted over what was seen; the window's first answer corrects the guess either way
        guesses = [value for value in (self.limit, self.hint) if value is not None]
        self.left = float(min(guesses)) if guesses else None
        self.unsure, self.told, self.answered, self.seen = 0.0, False, 0.0, None
        self.doubted = self.refused = False

    def doubt(self) -> bool:
        """
        Whether what is left is a figure our own count does not explain: the window was seen to hold more than
        twice what we used of it, no refusal said it is spent, and it was not doubted yet. Then one request may
        look (its answer, or its refusal, says what is true), once per window.
        """
        if self.refused or self.doubted or not self.told or self.seen is None or self.left is None:
            return False
        if self.left + self.answered >= 0.5 * self.seen:
            return False
        self.doubted, self.told, self.left = True, False, self.seen - self.answered
        return True

    def spend(self, cost: float) -> None:
        if self.left is not None:
            self.left -= cost

    def settle(self, reserved: float, actual: float) -> None:
        """A request was served and cost `actual` (it reserved `reserved`)."""
        self.spend(actual - reserved)
        self.answered += actual

    def observe(self, remaining: int, in_flight: float, *, served: bool) -> None:
        """
        An answer's remaining figure, when `in_flight` is what our unanswered requests cost.

        The window's first figure replaces the guess it started with (so a budget can rise); after it the
        lowest wins, as answers may arrive out of order. `served`: a 2xx, whose figure also tells what the
        window holds (for the next window's guess).
        """
        if (
            not self.told
            or self.left is None
            or remaining < self.left
            or (remaining == self.left and in_flight < self.unsure)
        ):
            self.left, self.unsure = float(remaining), in_flight
        if served:
            self.seen = max(self.seen or 0.0, remaining + self.answered)
        self.told = True

    def blocks(self, cost: float, *, settled: bool) -> bool:
        """Whether `cost` may not fit; `settled`: none of our requests is in flight, so `left` is exact."""
        if self.left is None or self.left - (0 if settled else self.unsure) >= cost:
            return False
        ceiling = self.limit if self.limit is not None else self.hint
        return ceiling is None or cost <= ceiling  # a request larger than a whole window goes anyway


class Policy:
    """
    The pacing decisions for one key and host (see the module docstring). Every method takes the time.

    :param stated: Limits the user stated (the key's total); anything not stated is learned.
    :param window: Seconds per rate-limit window.
    :param rng: Where the jitter comes from (a seeded one in simulations).
    """

    def __init__(
        self, stated: Limits | None = None, *, window: float = WINDOW_SECONDS, rng: random.Random | None = None
    ) -> None:
        self.window = window
        self.random = rng or random.Random()  # jitter, not secrets
        self.guard = min(window / 200 + 0.02, window / 10)  # timers and clocks are not exact
        self.in_flight = 0
        self.tickets: set[Ticket] = set()
        self.refused = 0
        self.stated_concurrency: int | None = None
        self.key_limit: int | None = None  # the key's total, as a concurrency refusal's detail names it
        self._key_limit_at = 0.0  # forgotten a window later (the key may have moved to a higher tier)
        self.ramp = START_CONCURRENCY  # the bound of components that stated nothing, growing from 5
        self._ramp_successes = 0
        self.share: float | None = None  # this process's share of the key's concurrency, once a refusal lowered it
        self._plateau = 0.0  # the share a refusal last hit: growth above it is slow (one slot per probe interval)
        self._probe_at: float | None = None
        self._yield_until = 0.0  # at the key's full limit: one slot left free until then (see `_probe`)
        self._yielding = False
        self._grow_after_yield = False
        self._round = 0  # the share's generation: bumped by each decrease
        self._lone_refusals = 0  # concurrency refusals in a row with none of ours in flight
        self._next_send = 0.0  # below one request's share: when the next may go
        self._latency = 0.0  # smoothed time to a served answer
        self.requests = Budget()
        self.tokens = Budget()
        # When the server's current window opened, at the latest: when our first answer of it came (before that:
        # when our first request of it was sent). Whether the server's windows open with a request or sit on a
        # clock, it closes at most `window` seconds later.
        self._window_start: float | None = None
        self._window_confirmed = False
        self.window_id = 0
        # Until an answer of the current window tells what is left, what we think is left is a guess (a stated
        # limit, or what the last window held) that another process on the key may have spent: if all we may
        # send at once could overrun it, one request goes first and the rest wait for its answer.
        self._untold = True
        self.paused_until = 0.0
        self._one_first = False  # after a pause for a spent budget: one request looks before the rest go
        self._refusals_in_a_row = 0  # rate refusals since the last success: the floor of a 0 s Retry-After grows
        self.closed_until = 0.0  # a Retry-After over the cap: calls fail at once until then
        self.closed_by: Signals | None = None
        self.last_success: float | None = None
        self.key_progress: float | None = None  # when an answer last showed other processes being served
        self._tokens_per_char: dict[str, float] = {}
        self._stated: Limits | None = None
        self.state(stated)

    # ------------------------------------------------------------------ limits
    @property
    def concurrency(self) -> int | None:
        """This process's bound on the key as far as it is known (lowered by refusals, or stated); `None`: neither."""
        known = [v for v in (self.stated_concurrency, self.key_limit) if v is not None]
        if self.share is not None:
            known.append(max(1, int(self.share)))
        return min(known) if known else None

    @property
    def learned(self) -> int | None:
        """The bound refusals lowered this process's share to, or the key's total they named (`None`: neither)."""
        known = [v for v in (self.key_limit, None if self.share is None else max(1, int(self.share))) if v is not None]
        return min(known) if known else None

    def bound(self, cap: int | None) -> int:
        """Requests of the key allowed in flight for a component whose own stated cap is `cap` (`None`: not stated)."""
        if self.stated_concurrency is not None:
            bound = self.stated_concurrency
        else:  # a component that states its own cap is bounded by it (in the client), not slowed to the ramp
            bound = MAX_CONCURRENCY if cap is not None else self.ramp
        if self.key_limit is not None:
            bound = min(bound, self.key_limit)
        if self.share is not None:
            bound = min(bound, max(1, int(self.share)))
        return bound - 1 if self._yielding else bound

    def state(self, limits: Limits | None) -> bool:
        """Take known limits (a stated tier): they replace what was learned. Stating the same again: `False`."""
        if limits is None or limits == self._stated:
            return False
        self._stated = limits
        if limits.concurrency is not None:
            self.stated_concurrency, self.share, self.key_limit = limits.concurrency, None, None
        for budget, limit in ((self.requests, limits.rpm), (self.tokens, limits.tpm)):
            if limit is not None:
                budget.limit = limit
                if budget.left is None:
                    budget.left = float(limit)
        return True

    def estimate(self, chars: int, images: int, path: str) -> int:
        """The tokens a request is expected to cost (calibrated by earlier answers to `path`)."""
        return round(chars * self._tokens_per_char.get(path, INITIAL_TOKENS_PER_CHAR)) + images * IMAGE_TOKENS

    # ------------------------------------------------------------------ before a request
    def decide(self, now: float, tokens: int, cap: int | None) -> Decision:
        """Whether a request of `tokens` may go now, for a component whose stated cap is `cap`."""
        if now < self.paused_until:
            return Decision(send=False, until=self.paused_until)
        if self._window_start is not None and now >= self._window_start + self.window + self.guard:
            self._new_window()
        if self.key_limit is not None and now - self._key_limit_at >= self.window:
            # a window without a refusal naming it: grow from it, one slot per probe interval
            if self.share is None:
                self.share = self._plateau = float(self.key_limit)
            self.key_limit = None
        self._probe(now)
        bound = self.bound(cap)
        if not bound:  # leaving our one slot to another process for a moment
            return Decision(send=False, until=self._yield_until)
        # a later window's placement is a guess (ours drift from the server's): its first answer says if it opened
        if self.in_flight >= bound or (
            self._untold
            and self.in_flight
            and ((self.window_id and self._paced()) or self._could_overrun(bound, tokens))
        ):
            return WAIT_FOR_ANSWER
        if self.in_flight and self._one_first:
            return WAIT_FOR_ANSWER
        if self.share is not None and self.share < 1:
            if self.in_flight:
                return WAIT_FOR_ANSWER
            if now < self._next_send:
                return Decision(send=False, until=self._next_send)
        settled = not self.in_flight
        if self.requests.blocks(1, settled=settled) or self.tokens.blocks(tokens, settled=settled):
            if self.in_flight:
                return WAIT_FOR_ANSWER  # their answers will tell what is really left
            # the window's budget is spent: wait until it has surely closed rather than be refused
            start = self._window_start if self._window_start is not None else now
            self.paused_until = max(start + self.window + self.guard, now + self.guard)
            self._one_first = True
            if self.requests.doubt() | self.tokens.doubt():  # a lone low figure: look again soon, not a window later
                self._untold = True
                self.paused_until = min(self.paused_until, now + self._probe_interval() / 10)
            return Decision(send=False, until=self.paused_until)
        return SEND

    def _probe(self, now: float) -> None:
        """
        Once per probe interval, a process holding slots leaves one free for a couple of answers: another process
        waiting for a slot takes it, and our next request is refused, which lowers our share (else whoever came
        first would hold the key for good, never refused). Alone, that costs one slot for a moment, no refusal.
        After that, a share lowered by refusals and grown back to where it was refused tries one slot more.
        """
        if self._probe_at is None:  # not in the first window: what was stated runs in full at first
            self._probe_at = now + self.window + self._probe_interval()
        self._yielding = now < self._yield_until
        if self._yielding or now < self._probe_at:
            return
        if self._grow_after_yield:
            self._grow_after_yield = False
            if self.share is not None and self.share >= self._plateau:
                self.share = math.floor(self.share) + 1.0 if self.share >= 1 else min(1.0, self.share * 2)
                self._plateau = self.share
                self._forget_share_above_ceiling()
            self._probe_at = now + self._probe_interval()
            return
        if self.share is not None and self.share < 1:  # it holds no slot: nothing to leave; the gaps halve
            self.share = self._plateau = min(1.0, self.share * 2)
            self._probe_at = now + self._probe_interval()
            return
        full = self._ceiling()
        if (self.share is None and (full is None or self.in_flight < full - 1)) or (
            self.share is not None and self.share < self._plateau
        ):
            self._probe_at = now + self._probe_interval()
            return  # not at the key's limit, or still growing back to it
        self._yield_until = now + self._answer_time()
        self._yielding = True
        self._grow_after_yield = self.share is not None and self.share >= self._plateau

    def _probe_interval(self) -> float:
        # about twenty answers (a probe costs at most one refusal), at most 0.3 of a window; jittered
        answers = PROBE_ANSWERS * (self._latency or min(0.1, self.window / 600))  # before any: a short guess
        return min(0.3 * self.window, answers) * self.random.uniform(*PROBE_INTERVAL)

    def _answer_time(self) -> float:
        """How long a served request takes, as seen so far (before any: a guess, scaled to the window)."""
        return self._latency or min(1.0, self.window / 60)

    def _ceiling(self) -> int | None:
        """The key's total, as stated or as a refusal named it (the lower)."""
        known = [v for v in (self.stated_concurrency, self.key_limit) if v is not None]
        return min(known) if known else None

    def _forget_share_above_ceiling(self) -> None:
        ceiling = self._ceiling()
        if self.share is not None and ceiling is not None and self.share >= ceiling:
            self.share = None  # back at the stated total: nothing lowered any more
        elif self.share is not None and self.share >= MAX_CONCURRENCY:
            self.share = None

    def _paced(self) -> bool:
        """Whether a per-minute budget is known (stated, or told by answers)."""
        return self.requests.left is not None or self.tokens.left is not None

    def _could_overrun(self, bound: int, tokens: int) -> bool:
        """Whether `bound` requests like this one could spend more than we think is left of the window."""
        return any(
            budget.left is not None and bound * cost > budget.left
            for budget, cost in ((self.requests, 1), (self.tokens, tokens))
        )

    def _new_window(self) -> None:
        self._window_start = None
        self._window_confirmed = False
        self._untold = True
        self.window_id += 1
        self.requests.new_window()
        self.tokens.new_window()

    def sent(self, now: float, tokens: int, chars: int, images: int, path: str) -> Ticket:
        """A request goes now: reserve its share."""
        if self._window_start is None:
            self._window_start = now
        level = self.share if self.share is not None else float(self.in_flight + 1)
        ticket = Ticket(self.window_id, self.in_flight, tokens, chars, images, path, now, self._round, level)
        self.tickets.add(ticket)
        self.in_flight += 1
        self.requests.spend(1)
        self.tokens.spend(tokens)
        return ticket

    # ------------------------------------------------------------------ after an answer
    def answered(self, now: float, ticket: Ticket, answer: Signals | None) -> bool:
        """Learn from the answer (`None`: no answer came) and free the request's slot; `False` if freed already."""
        if ticket not in self.tickets:
            return False
        self.tickets.discard(ticket)
        self.in_flight -= 1
        if self.share is not None and self.share < 1:
            self._next_send = now + self._answer_time() * (1 / self.share - 1) * self.random.uniform(0.5, 1.5)
        self._learn(now, ticket, answer)
        return True

    def _learn(self, now: float, ticket: Ticket, answer: Signals | None) -> None:
        current = ticket.window == self.window_id
        if answer is not None and answer.status == 429:
            self._refused(now, ticket, answer, current)
        elif answer is not None and answer.served:
            self._succeeded(now, ticket)
            if current:
                actual = self._calibrate(ticket, answer)
                self.requests.settle(1, 1)
                self.tokens.settle(ticket.tokens, ticket.tokens if actual is None else actual)
        elif current:  # not served: the server counts only what it admits (assumed)
            self.requests.spend(-1)
            self.tokens.spend(-ticket.tokens)
        if answer is not None and answer.refusal not in ("requests", "tokens"):
            self._one_first = False
        if answer is not None and current and self._reopened(answer):
            # the server's window turned over before this request was admitted: ours follows it
            self._new_window()
            self._window_start, self._window_confirmed = ticket.sent_at, True
            current = True
            ticket.window = self.window_id
        if answer is not None and current:
            self._untold = False
            if not self._window_confirmed:
                self._window_start, self._window_confirmed = now, True
            self._observe_headers(answer)

    def _succeeded(self, now: float, ticket: Ticket) -> None:
        self.last_success = now
        self._lone_refusals = self._refusals_in_a_row = 0
        latency = now - ticket.sent_at
        self._latency = latency if not self._latency else 0.8 * self._latency + 0.2 * latency
        if self.share is not None:
            if self.share < 1:  # one request at a time with gaps: the gaps halve
                self.share = min(self._plateau, 1.0, self.share * 2)
            elif self.share < self._plateau and ticket.others + 2 >= int(ticket.level):  # it used its bound
                # below the level that was not refused: a quarter more a round (one slot at least; a round: `share`
                # answers), so a large share comes back in a few rounds
                self.share = min(self._plateau, self.share + max(1.0, self.share / 4) / self.share)
            return
        if self.stated_concurrency is not None or ticket.others + 1 < self.ramp:
            return  # stated: nothing grows; or the round did not use the bound
        self._ramp_successes += 1
        if self._ramp_successes >= self.ramp:  # a full round at the bound: +1 first, then x2
            self.ramp = min(MAX_CONCURRENCY, self.ramp + 1 if self.ramp == START_CONCURRENCY else 2 * self.ramp)
            self._ramp_successes = 0

    def _calibrate(self, ticket: Ticket, answer: Signals) -> int | None:
        """The tokens the answer reports in `usage`; they tune the estimate of later requests."""
        actual = answer.tokens_used
        if actual is None:
            return None
        if ticket.chars and not ticket.images:
            ratio = min(actual / ticket.chars, 10.0)  # an absurd count must not stop the key
            previous = self._tokens_per_char.get(ticket.path)
            self._tokens_per_char[ticket.path] = ratio if previous is None else 0.5 * previous + 0.5 * ratio
        return actual

    def _reopened(self, answer: Signals) -> bool:
        """Whether the answer's remaining requests jumped up by more than answers out of order explain."""
        budget, remaining = self.requests, answer.remaining_requests
        if remaining is None or not budget.told or budget.left is None:
            return False
        size = budget.seen or budget.limit or budget.hint or remaining
        return remaining > budget.left + budget.unsure + max(2, 0.25 * size)

    def _observe_headers(self, answer: Signals) -> None:
        mine = [t for t in self.tickets if t.window == self.window_id]
        figures = (
            (self.requests, answer.remaining_requests, len(mine)),
            (self.tokens, answer.remaining_tokens, sum(t.tokens for t in mine)),
        )
        for budget, remaining, in_flight in figures:
            if remaining is not None:
                budget.observe(remaining, in_flight, served=answer.served)

    def _refused(self, now: float, ticket: Ticket, answer: Signals, current: bool) -> None:
        self.refused += 1
        self._refusals_in_a_row += 1
        retry_after = answer.retry_after
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            # the call fails (the client); every other call that would send meanwhile fails too, at once
            self.closed_until, self.closed_by = max(self.closed_until, now + MAX_RETRY_AFTER), answer
            retry_after = MAX_RETRY_AFTER
        elif retry_after is not None and retry_after <= 0:
            retry_after = self._floor()  # "0", or a date already past (it has whole seconds): not a retry at once
        if current:
            self.requests.spend(-1)
            self.tokens.spend(-ticket.tokens)
        code = answer.code
        current_figure = answer.concurrency_current
        if current_figure is not None and current_figure - 1 > self.in_flight:
            self.key_progress = now  # other processes hold slots: the key serves them
        if code == CONCURRENCY_LIMIT:
            self._refused_concurrency(now, ticket, answer, retry_after)
        elif code in (REQUEST_LIMIT, TOKEN_LIMIT):
            spent = self.requests if code == REQUEST_LIMIT else self.tokens
            spent.left, spent.unsure, spent.refused = 0.0, 0.0, True
            self._one_first = True
            if retry_after is not None:
                # the window closes in `retry_after` seconds: align ours on it
                self._window_start = now + retry_after - self.window - self.guard
                self._window_confirmed = True
            elif self._window_start is None or self._window_start + self.window + self.guard <= now:
                # no window of ours is open: the server's (someone else's, or on a clock we do not know) closes
                # within a window, maybe very soon. One request looks again after a growing, jittered wait.
                self._new_window()
                self.paused_until = max(self.paused_until, now + self._floor())
                return
            self.paused_until = max(self.paused_until, self._window_start + self.window + self.guard)
        elif retry_after is not None:
            self.paused_until = max(self.paused_until, now + retry_after)

    def _floor(self) -> float:
        """The least wait after a refusal: 0.5 s doubling with refusals in a row up to 8 s (and a window), jittered."""
        floor = min(RETRY_FLOOR * 2 ** min(self._refusals_in_a_row - 1, 4), self.window, MAX_RETRY_AFTER)
        return float(floor * self.random.uniform(0.5, 1.0))

    def _refused_concurrency(self, now: float, ticket: Ticket, answer: Signals, retry_after: float | None) -> None:
        stated = answer.concurrency_limit
        if stated is not None:  # the detail names the key's total ("{current}/N"): a ceiling, not our share
            self.key_limit, self._key_limit_at = stated, now
        if retry_after is not None:
            self.paused_until = max(self.paused_until, now + retry_after)
        if not self.in_flight and not ticket.others and (self.share is None or self.share >= 1):
            # none of ours holds the key: someone else does. A slot of theirs frees when one of their requests
            # ends; look again soon. Refusals in a row like this lower the share below one request.
            self._lone_refusals += 1
            if self._lone_refusals < 3:
                pause = self.random.uniform(0.1, 0.3) * min(1.0, self.window)
                self.paused_until = max(self.paused_until, now + pause)
                return
        if ticket.round != self._round:
            return  # the share was lowered after this request was sent: once per round
        # what we held when refused: ours still on the wire and this one (refusals come back at once, so in a
        # burst that is what the burst sent, not what the server admitted)
        level = max(float(self.in_flight + 1), ticket.level) if self.share is None else ticket.level
        current = answer.concurrency_current
        if current is not None and 0 < current - 1 <= self.in_flight:
            # every request the key holds is ours: its limit is what we hold, exactly; no more to learn
            self.share = self._plateau = float(current - 1)
            self._round += 1
            self._probe_at = now + self._probe_interval()
            return
        # a process that holds a slot keeps one; only refusals with none of ours on the wire go below one
        least = 1.0 if self.in_flight or level > 1 else MIN_SHARE
        self.share = max(least, level * self.random.uniform(*DECREASE))
        if current is not None and current - 1 > self.in_flight:
            self._plateau = self.share  # others hold slots too: from here, slowly (one slot per probe interval)
        else:  # the level below the refused one, as far as we know ours alone: grow back to it quickly
            self._plateau = max(self.share, level - 1)
        self._round += 1
        self._probe_at = now + self._probe_interval()
        if self.share < 1:
            self._next_send = now + self._answer_time() * (1 / self.share - 1)

    # ------------------------------------------------------------------ the call's side
    def refusal_verdict(self, now: float, since: float) -> str | None:
        """
        For a call refused for a rate limit since `since`: `None` if it may retry without spending an attempt,
        else why it should give up (no progress on the key for too long, or refused for too long in all). The key
        progresses when a request of ours succeeds, or when a concurrency refusal counts more requests in flight
        than ours (others are being served).
        """
        scale = self.window / WINDOW_SECONDS
        progress = max(since, self.last_success or since, self.key_progress or since)
        if now - progress > NO_PROGRESS_SECONDS * scale:
            return f"no request on this key succeeded for {now - progress:.0f} s, as far as this process can tell"
        if now - since > MAX_REFUSED_SECONDS * scale:
            return f"this call was refused for {now - since:.0f} s"
        return None
