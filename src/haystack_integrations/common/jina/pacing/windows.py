"""The key's per-minute windows (RPM / TPM) as this process sees them: where the current one is, what is left.

- RPM / TPM: each request reserves 1 request and its estimated tokens from what the answers of the current
  window say is left (lowest figure wins). The `X-RateLimit-Remaining-*` figures are the key's, not this
  process's. A new window starts from the lower of the stated limit and what the last window was seen to
  hold; its first answer replaces that guess. When the budget is spent, requests wait for the next window
  instead of being refused; a lone "0 left" that our own count does not explain (another process spent it,
  or a glitch) holds the key for a probe interval at most, not a window. Token estimates come from the
  characters sent, calibrated by the `usage` of earlier answers (`budget.TokenEstimate`).
- Windows: the reference does not say how they are placed. A window of the server's, whether opened by our
  first request or sitting on a fixed clock, closes at most `window` seconds (a minute; `JINA_RATE_WINDOW`
  overrides it) after our first request in it; a `Retry-After` says exactly when. A refused request costs no
  budget (assumed).
- A guessed window start refused (no `Retry-After`; an earlier window of ours was served, so the start was guessed
  from it; nothing of ours served in this one yet): either the guess is early (the server's window had not opened
  when the request came; waiting a whole window would keep the same phase error, refused again and again) or
  others spent the window. The guess moves past the refusal: one request looks again after a doubling wait (from
  the guard, jittered up, at most an eighth of a window: 0.3 s, 0.6 s, ... 7.5 s at a minute), at most
  `EARLY_LOOKS` times (about a window of looks); then the window counts as spent from the first refused look, and
  no short looks follow until one of ours is served. (Four looks, then a window, starved processes that others beat
  to each window until the no-progress deadline failed their jobs: the looks must span about a window.)
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from haystack_integrations.common.jina.pacing.budget import Budget
from haystack_integrations.common.jina.pacing.limits import Limits
from haystack_integrations.common.jina.pacing.signals import REQUEST_LIMIT, Signals
from haystack_integrations.common.jina.pacing.ticket import Ticket
from haystack_integrations.common.jina.pacing.timing import AnswerTime

#: Refused looks at a guessed window start, each after a doubling wait (at most an eighth of a window), before the
#: window counts as spent: about a window of looks, so a process that others beat to each window still finds one.
EARLY_LOOKS = 12


class Windows:
    """
    The requests and tokens budgets of the server's current window, and where that window is. Pure: told the time.

    :param window: Seconds per rate-limit window.
    :param rng: Where the jitter comes from (the policy's).
    :param timing: How long answers take (a doubted figure is looked at again a tenth of a probe interval later).
    """

    def __init__(self, window: float, rng: random.Random, timing: AnswerTime) -> None:
        self.window = window
        self.random = rng
        self.timing = timing
        self.guard = min(window / 200 + 0.02, window / 10)  # timers and clocks are not exact
        self.requests = Budget()
        self.tokens = Budget()
        # When the server's current window opened, at the latest: when our first answer of it came (before that:
        # when our first request of it was sent). Whether the server's windows open with a request or sit on a
        # clock, it closes at most `window` seconds later.
        self.start: float | None = None
        self.confirmed = False
        self.id = 0
        # Until an answer of the current window tells what is left, what we think is left is a guess (a stated
        # limit, or what the last window held) that another process on the key may have spent: if all we may
        # send at once could overrun it, one request goes first and the rest wait for its answer.
        self.untold = True
        self.one_first = False  # after a pause for a spent budget: one request looks before the rest go
        self.early = 0  # looks refused at a guessed window start since one of ours was served (see `refused`)
        self.first_early = 0.0  # when the first of them opened our guessed window
        self.placed = False  # a window of ours was served: the later ones' starts are guessed from it

    def state(self, limits: Limits) -> None:
        """Take stated RPM / TPM limits."""
        for budget, limit in ((self.requests, limits.rpm), (self.tokens, limits.tpm)):
            if limit is not None:
                budget.limit = limit
                if budget.left is None:
                    budget.left = float(limit)

    def new_window(self) -> None:
        self.start = None
        self.confirmed = False
        self.untold = True
        self.id += 1
        self.requests.new_window()
        self.tokens.new_window()

    def time_left(self, now: float) -> float:
        """Seconds until the current window closes at the latest (a whole window if none of ours is open)."""
        return self.window if self.start is None else max(0.0, self.start + self.window - now)

    def expire(self, now: float) -> None:
        """Start a new window once the current one has surely closed."""
        if self.start is not None and now >= self.start + self.window + self.guard:
            self.new_window()

    # ------------------------------------------------------------------ before a request
    def untold_guess(self, bound: int, tokens: int) -> bool:
        """Whether, with requests in flight, the rest should wait for an answer to tell what is left (see `untold`)."""
        # a later window's placement is a guess (ours drift from the server's): its first answer says if it opened,
        # unless what the last one had left would hold the requests anyway (a budget far from spent)
        return self.untold and (
            (bool(self.id) and self._paced() and self._could_overrun(bound, tokens, last=True))
            or self._could_overrun(bound, tokens)
        )

    def _paced(self) -> bool:
        """Whether a per-minute budget is known (stated, or told by answers)."""
        return self.requests.left is not None or self.tokens.left is not None

    def _could_overrun(self, bound: int, tokens: int, *, last: bool = False) -> bool:
        """
        Whether `bound` requests like this one could spend more than we think is left of the window (`last`: than
        the last window had left when ours turned over; not told: they could).
        """
        for budget, cost in ((self.requests, 1), (self.tokens, tokens)):
            left = budget.last_left if last else budget.left
            if left is None:
                if last and budget.left is not None:
                    return True  # paced, and the last window said nothing of itself at its turn
            elif bound * cost > left:
                return True
        return False

    def blocks(self, tokens: int, *, settled: bool) -> bool:
        """Whether a request of `tokens` may not fit what is left (`settled`: none of ours in flight)."""
        return self.requests.blocks(1, settled=settled) or self.tokens.blocks(tokens, settled=settled)

    def spent_until(self, now: float) -> float:
        """The window's budget is spent: until when to wait so that it has surely closed, rather than be refused."""
        start = self.start if self.start is not None else now
        until = max(start + self.window + self.guard, now + self.guard)
        self.one_first = True
        if self.requests.doubt() | self.tokens.doubt():  # a lone low figure: look again soon, not a window later
            self.untold = True
            until = min(until, now + self.timing.probe_interval() / 10)
        return until

    def sent(self, now: float, tokens: int) -> None:
        """A request goes now: reserve its share of the budgets."""
        if self.start is None:
            self.start = now
        self.requests.spend(1)
        self.tokens.spend(tokens)

    # ------------------------------------------------------------------ after an answer
    def settle(self, ticket: Ticket, actual: int | None) -> None:
        """A request of the current window was served; it cost `actual` tokens (`None`: what it reserved)."""
        self.early, self.placed = 0, True
        self.requests.settle(1, 1)
        self.tokens.settle(ticket.tokens, ticket.tokens if actual is None else actual)

    def refund(self, ticket: Ticket) -> None:
        """A request of the current window was not served: the server counts only what it admits (assumed)."""
        self.requests.spend(-1)
        self.tokens.spend(-ticket.tokens)

    def follow(self, now: float, ticket: Ticket, answer: Signals, current: bool, tickets: Iterable[Ticket]) -> None:
        """What an answer says of the window (`current`: the request was of ours); `tickets`: ours in flight."""
        if answer.refusal not in ("requests", "tokens"):
            self.one_first = False
        if current and self._reopened(answer):
            # the server's window turned over before this request was admitted: ours follows it
            self.new_window()
            self.start, self.confirmed = ticket.sent_at, True
            current = True
            ticket.window = self.id
        if current:
            self.untold = False
            if not self.confirmed:
                self.start, self.confirmed = now, True
            self._observe_headers(answer, tickets)

    def _reopened(self, answer: Signals) -> bool:
        """Whether the answer's remaining requests jumped up by more than answers out of order explain."""
        budget, remaining = self.requests, answer.remaining_requests
        if remaining is None or not budget.told or budget.left is None:
            return False
        size = budget.seen or budget.limit or budget.hint or remaining
        return remaining > budget.left + budget.unsure + max(2, 0.25 * size)

    def _observe_headers(self, answer: Signals, tickets: Iterable[Ticket]) -> None:
        mine = [t for t in tickets if t.window == self.id]
        figures = (
            (self.requests, answer.remaining_requests, len(mine)),
            (self.tokens, answer.remaining_tokens, sum(t.tokens for t in mine)),
        )
        for budget, remaining, in_flight in figures:
            if remaining is not None:
                budget.observe(remaining, in_flight, served=answer.served)

    def look_again(self, code: str, cost: int) -> None:
        """
        A refusal said the budget is spent but not when it renews (its `Retry-After` was unreadable): after a short
        wait, one request of `cost` may look (its answer tells what is left); the rest wait for that answer.
        """
        spent = self.requests if code == REQUEST_LIMIT else self.tokens
        spent.left = max(spent.left or 0.0, float(cost))
        self.untold = self.one_first = True

    def refused(self, now: float, code: str, retry_after: float | None, *, current: bool = True) -> float | None:
        """
        A refusal said the requests (`code`) or tokens budget is spent: when the window closes, or `None` when no
        window of ours is open. Then the server's (someone else's, or on a clock we do not know) closes within a
        window, maybe very soon: a new one starts, and one request looks again after a growing, jittered wait.
        At a guessed window start, nothing of ours served in it yet, the guess was early or the window is spent
        (module docstring): one request looks again soon, a few times, before a window is waited out. `current`:
        the request was of our current window (one of a burst answered after the first refusal started a new one
        is not a new look).
        """
        if not current and self.early and retry_after is None:
            return now  # the look already planned stands
        spent = self.requests if code == REQUEST_LIMIT else self.tokens
        spent.left, spent.unsure, spent.refused = 0.0, 0.0, True
        self.one_first = True
        if retry_after is not None:
            # the window closes in `retry_after` seconds: align ours on it
            self.start = now + retry_after - self.window - self.guard
            self.confirmed = True
        elif self.start is None or self.start + self.window + self.guard <= now:
            self.new_window()
            return None
        elif self.placed and not self.requests.answered:
            if not self.early:
                self.first_early = self.start
            if self.early < EARLY_LOOKS:
                self.early += 1
                self.new_window()  # not open yet, as far as we know: the next look's answer places it
                return now + min(self.guard * 2.0 ** (self.early - 1), self.window / 8) * self.random.uniform(1.0, 1.5)
            # spent, by others: a window from the first refused look (its phase is the one others found)
            self.early, self.placed = 0, False  # no more short looks until one of ours is served
            self.start, self.confirmed = self.first_early, True
        return self.start + self.window + self.guard
