"""The pacing decisions for one key on one host, as a pure object: no asyncio, no clock, no parsing.

`Policy` is told the time with every call. Before a request, `decide` says what to do: send now, look again
at a given time, or wait until an answer comes. `sent` records a request, `answered` learns from what its
answer said (`Signals`, parsed elsewhere), and `refusal_verdict` tells a call refused for a rate limit whether
it may retry without spending an attempt. `pacer.py` does the waiting; the simulation test drives several
policies against a simulated key in simulated time.

The key's limits are shared by every process that uses it; each process paces itself from what the server
tells it, without talking to the others. `Policy` composes the parts that decide, each pure, each with its
rules in its module docstring:

- `concurrency.ConcurrencyShare`: how many requests this process may have in flight (stated, ramped, lowered
  by refusals, probed; grown into the room the key's remaining-requests figures show: `key_load.RoomGrowth`).
- `windows.Windows` (with `budget.Budget`, `budget.TokenEstimate`): the RPM / TPM budgets of the current
  window and where that window is.
- `refusals.Refusals`: what a `Retry-After` means (a floor, the key closed) and when a refused call gives up.
- `timing.AnswerTime`: how long answers take, and the probe interval that follows.

Same-host sharing (opt-in, `host_share.py`) is the one exception to "no process talks to another": `split`
tells the policy this process's part among the busy processes of the host (the pacer reads it, the policy
stays pure).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from haystack_integrations.common.jina.pacing.budget import TokenEstimate
from haystack_integrations.common.jina.pacing.concurrency import ConcurrencyShare
from haystack_integrations.common.jina.pacing.host_share import Peers
from haystack_integrations.common.jina.pacing.limits import WINDOW_SECONDS, Limits
from haystack_integrations.common.jina.pacing.refusals import Refusals
from haystack_integrations.common.jina.pacing.signals import CONCURRENCY_LIMIT, REQUEST_LIMIT, TOKEN_LIMIT, Signals
from haystack_integrations.common.jina.pacing.ticket import Ticket
from haystack_integrations.common.jina.pacing.timing import AnswerTime
from haystack_integrations.common.jina.pacing.windows import Windows

__all__ = ["SEND", "WAIT_FOR_ANSWER", "Decision", "Policy", "Ticket"]


@dataclass(frozen=True)
class Decision:
    """What to do before sending: `send`, else look again at `until` (`None`: when an answer comes)."""

    send: bool
    until: float | None = None


SEND = Decision(send=True)
WAIT_FOR_ANSWER = Decision(send=False)


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
        self.in_flight = 0
        self.tickets: set[Ticket] = set()
        self.paused_until = 0.0
        self._look_again: tuple[str, int] | None = None  # an RPM / TPM refusal not believed: one request looks
        self.timing = AnswerTime(window, self.random)
        self.concurrency_share = ConcurrencyShare(window, self.random, self.timing)
        self.windows = Windows(window, self.random, self.timing)
        self.requests, self.tokens = self.windows.requests, self.windows.tokens  # the budgets (never replaced)
        self.refusals = Refusals(window, self.random)
        self.costs = TokenEstimate()
        self._stated: Limits | None = None
        self.state(stated)

    # ------------------------------------------------------------------ limits
    @property
    def concurrency(self) -> int | None:
        """This process's bound on the key as far as it is known (lowered by refusals, or stated); `None`: neither."""
        return self.concurrency_share.concurrency

    @property
    def learned(self) -> int | None:
        """The bound refusals lowered this process's share to, or the key's total they named (`None`: neither)."""
        return self.concurrency_share.learned

    @property
    def refused(self) -> int:
        return self.refusals.count

    @property
    def closed_until(self) -> float:
        return self.refusals.closed_until

    @property
    def closed_by(self) -> Signals | None:
        return self.refusals.closed_by

    def bound(self, cap: int | None) -> int:
        """Requests of the key allowed in flight for a component whose own stated cap is `cap` (`None`: not stated)."""
        return self.concurrency_share.bound(cap)

    def state(self, limits: Limits | None) -> bool:
        """Take known limits (a stated tier): they replace what was learned. Stating the same again: `False`."""
        if limits is None or limits == self._stated:
            return False
        self._stated = limits
        if limits.concurrency is not None:
            self.concurrency_share.state(limits.concurrency)
        self.windows.state(limits)
        return True

    def split(self, now: float, peers: Peers | None) -> None:
        """Same-host sharing: the busy processes of this host on the key, or `None` (see `host_share.py`)."""
        self.concurrency_share.split(now, peers)

    def estimate(self, chars: int, images: int, path: str) -> int:
        """The tokens a request is expected to cost (calibrated by earlier answers to `path`)."""
        return self.costs.estimate(chars, images, path)

    # ------------------------------------------------------------------ before a request
    def decide(self, now: float, tokens: int, cap: int | None) -> Decision:
        """Whether a request of `tokens` may go now, for a component whose stated cap is `cap`."""
        if now < self.paused_until:
            return Decision(send=False, until=self.paused_until)
        share = self.concurrency_share
        self.windows.expire(now)
        share.ready(now, self.in_flight, self.windows.time_left(now))
        bound = self.bound(cap)
        if not bound:  # leaving our one slot to another process for a moment
            return Decision(send=False, until=share.probe.yield_until)
        if self.in_flight >= bound or (self.in_flight and self.windows.untold_guess(bound, tokens)):
            return WAIT_FOR_ANSWER
        if self.in_flight and share.wait_for_ours:
            return WAIT_FOR_ANSWER
        if self.in_flight and self.windows.one_first:
            return WAIT_FOR_ANSWER
        if share.below_one():
            if self.in_flight:
                return WAIT_FOR_ANSWER
            if now < share.next_send:
                return Decision(send=False, until=share.next_send)
        if self.windows.blocks(tokens, settled=not self.in_flight):
            share.budget_held_at = now  # the budget binds: room in flight is not the key's (no faster growth)
            if self.in_flight:
                return WAIT_FOR_ANSWER  # their answers will tell what is really left
            self.paused_until = self.windows.spent_until(now)  # rather than be refused
            return Decision(send=False, until=self.paused_until)
        return SEND

    def sent(self, now: float, tokens: int, chars: int, images: int, path: str) -> Ticket:
        """A request goes now: reserve its share."""
        self.windows.sent(now, tokens)
        share = self.concurrency_share
        level = share.level(self.in_flight)
        ticket = Ticket(self.windows.id, self.in_flight, tokens, chars, images, path, now, share.round, level)
        self.tickets.add(ticket)
        self.in_flight += 1
        return ticket

    # ------------------------------------------------------------------ after an answer
    def answered(self, now: float, ticket: Ticket, answer: Signals | None) -> bool:
        """Learn from the answer (`None`: no answer came) and free the request's slot; `False` if freed already."""
        if ticket not in self.tickets:
            return False
        self.tickets.discard(ticket)
        self.in_flight -= 1
        self.concurrency_share.answered(now)
        current = ticket.window == self.windows.id
        if answer is not None and answer.status == 429:
            self._refused(now, ticket, answer, current)
            current = ticket.window == self.windows.id  # a refusal may start a new window: its figures are not of it
        elif answer is not None and answer.served:
            self.refusals.succeeded(now)
            self.timing.served(now - ticket.sent_at)
            self.concurrency_share.served(ticket)
            if current:
                self.windows.settle(ticket, self.costs.calibrate(ticket, answer))
        elif current:  # not served: the server counts only what it admits (assumed)
            self.windows.refund(ticket)
        if answer is not None:
            self.concurrency_share.room.load.heard(now, answer.remaining_requests, served=answer.served)
            self.windows.follow(now, ticket, answer, current, self.tickets)
        if self._look_again is not None:  # after `follow`: the refusal's own "0 left" is what is not believed
            self.windows.look_again(*self._look_again)
            self._look_again = None
        return True

    def _refused(self, now: float, ticket: Ticket, answer: Signals, current: bool) -> None:
        retry_after = self.refusals.refused(now, answer, self.in_flight, ticket.sent_at)
        if current:
            self.windows.refund(ticket)
        code = answer.code
        if code == CONCURRENCY_LIMIT:
            until = self.concurrency_share.refused(now, ticket, answer, retry_after, self.in_flight)
            unmoved = self.refusals.unmoved_wait()
            if unmoved is not None and not self.in_flight:
                # refused again and again, the key's figures unmoved, none of ours on the wire: back off, bounded
                until = max(until, now + unmoved)
        elif code in (REQUEST_LIMIT, TOKEN_LIMIT):
            self.concurrency_share.budget_refused_at = now
            closes = self.windows.refused(now, code, retry_after, current=current)
            # no window of ours is open: one request looks again after a growing, jittered wait
            until = closes if closes is not None else now + self.refusals.floor()
            if answer.retry_after_unreadable and self.refusals.floor_grows():
                # the server meant to say when, and we could not read it: rather than a whole window on a guess,
                # one request looks again after the growing floor (0.5 s to 8 s), then the window as without one
                until = min(until, now + self.refusals.floor())
                self._look_again = (code, 1 if code == REQUEST_LIMIT else ticket.tokens)
        elif retry_after is not None:
            until = now + retry_after
        else:
            return
        self.paused_until = max(self.paused_until, until)

    # ------------------------------------------------------------------ the call's side
    def refusal_verdict(self, now: float, since: float) -> str | None:
        """
        For a call refused for a rate limit since `since`: `None` if it may retry without spending an attempt,
        else why it should give up (no progress on the key for too long, or refused for too long in all).
        """
        return self.refusals.verdict(now, since)
