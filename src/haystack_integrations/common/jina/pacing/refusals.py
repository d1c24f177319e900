"""What a rate-limit refusal's `Retry-After` means for the key, and when a refused call should give up (pure).

- A `Retry-After` over `MAX_RETRY_AFTER` closes the key for that long at most: the call that got it and every
  other call that would send meanwhile fail at once, saying when to retry (the client), rather than stall. A
  `Retry-After` of 0 or in the past waits a short jittered floor instead (a date has whole seconds). So does an
  RPM / TPM refusal whose `Retry-After` could not be read (the policy: one request looks after the floor, while
  the floor still grows; then the window as without one).
- Refusals are flow control: a call refused for concurrency, RPM or TPM retries without spending an attempt
  while the key makes progress (a request of this process on it succeeded within `NO_PROGRESS_SECONDS`,
  two windows, or a concurrency refusal counted others' requests in flight and the key's figures had moved
  since the last refusal), for at most `MAX_REFUSED_SECONDS` (ten windows) in all. Refusals that say the same
  as the one before, again and again with nothing of ours served (a key answering "51/50" forever), are not
  progress, and past `UNMOVED` of them the next look waits the growing floor (the policy).
"""

from __future__ import annotations

import random

from haystack_integrations.common.jina.pacing.limits import (
    MAX_REFUSED_SECONDS,
    MAX_RETRY_AFTER,
    NO_PROGRESS_SECONDS,
    WINDOW_SECONDS,
)
from haystack_integrations.common.jina.pacing.signals import Signals

#: The shortest wait after a refusal whose `Retry-After` is 0 or past, before jitter (seconds).
RETRY_FLOOR = 0.5
#: Refusals in a row after which the floor stops growing (0.5 s doubled four times: 8 s).
FLOOR_DOUBLINGS = 4
#: Refusals in a row saying the same as the one before (no success of ours, the key's figures unmoved) after which
#: the next look waits the growing floor: a process refused while others hold the key gets its slot back sooner.
UNMOVED = 16


class Refusals:
    """
    The refusals of one key: how long each says to wait, whether the key is closed, and whether it progresses.

    :param window: Seconds per rate-limit window (the deadlines scale with it).
    :param rng: Where the jitter comes from (the policy's).
    """

    def __init__(self, window: float, rng: random.Random) -> None:
        self.window = window
        self.random = rng
        self.count = 0
        self._in_a_row = 0  # rate refusals since the last success: the floor of a 0 s Retry-After grows
        self.closed_until = 0.0  # a Retry-After over the cap: calls fail at once until then
        self.closed_by: Signals | None = None
        self.last_success: float | None = None
        self.key_progress: float | None = None  # when an answer last showed other processes being served
        self._last_figures: tuple[object, ...] | None = None  # what the last refusal said of the key
        self._unmoved = 0  # refusals in a row, since our last success, that said the same as the one before
        self._last_refused_at = 0.0

    def refused(self, now: float, answer: Signals, in_flight: int, sent_at: float) -> float | None:
        """
        A refusal came (`in_flight`: ours still on the wire) to a request sent at `sent_at`: the seconds its
        `Retry-After` says to wait.
        """
        self.count += 1
        self._in_a_row += 1
        retry_after = answer.retry_after
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            # the call fails (the client); every other call that would send meanwhile fails too, at once
            self.closed_until, self.closed_by = max(self.closed_until, now + MAX_RETRY_AFTER), answer
            retry_after = MAX_RETRY_AFTER
        elif retry_after is not None and retry_after <= 0:
            retry_after = self.floor()  # "0", or a date already past (it has whole seconds): not a retry at once
        current_figure = answer.concurrency_current
        figures = (
            answer.code,
            current_figure,
            answer.concurrency_limit,
            answer.remaining_requests,
            answer.remaining_tokens,
        )
        if current_figure is not None and current_figure - 1 > in_flight and figures != self._last_figures:
            # other processes hold slots and the key's figures moved: it serves them. The same figures again and
            # again ("51/50" forever) may be a key that serves nobody: they do not hold the deadline off
            self.key_progress = now
        if figures != self._last_figures:
            self._unmoved = 0
        elif sent_at >= self._last_refused_at:  # a new look (not one more of a burst sent at once): same answer
            self._unmoved += 1
        self._last_figures, self._last_refused_at = figures, now
        return retry_after

    def unmoved_wait(self) -> float | None:
        """
        After `UNMOVED` refusals in a row saying the same (no success of ours between them, nothing moved on the key):
        how long to wait before looking again, growing like the floor (0.5 s to 8 s, jittered); else `None`.
        """
        if self._unmoved < UNMOVED:
            return None
        return self._growing(self._unmoved - UNMOVED)

    def floor_grows(self) -> bool:
        """Whether the floor still grows with each refusal in a row (it has not reached its longest yet)."""
        return self._in_a_row <= FLOOR_DOUBLINGS

    def succeeded(self, now: float) -> None:
        self.last_success = now
        self._in_a_row = self._unmoved = 0

    def floor(self) -> float:
        """The least wait after a refusal: 0.5 s doubling with refusals in a row up to 8 s (and a window), jittered."""
        return self._growing(self._in_a_row - 1)

    def _growing(self, doublings: int) -> float:
        """0.5 s doubled `doublings` times (at most `FLOOR_DOUBLINGS`), within a window and 60 s; jittered down."""
        wait = min(RETRY_FLOOR * 2 ** min(doublings, FLOOR_DOUBLINGS), self.window, MAX_RETRY_AFTER)
        return float(wait * self.random.uniform(0.5, 1.0))

    def verdict(self, now: float, since: float) -> str | None:
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
