"""What a rate-limit refusal's `Retry-After` means for the key, and when a refused call should give up (pure).

- A `Retry-After` over `MAX_RETRY_AFTER` closes the key for that long at most: the call that got it and every
  other call that would send meanwhile fail at once, saying when to retry (the client), rather than stall. A
  `Retry-After` of 0 or in the past waits a short jittered floor instead (a date has whole seconds).
- Refusals are flow control: a call refused for concurrency, RPM or TPM retries without spending an attempt
  while the key makes progress (a request of this process on it succeeded within `NO_PROGRESS_SECONDS`,
  two windows), for at most `MAX_REFUSED_SECONDS` (ten windows) in all.
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

    def refused(self, now: float, answer: Signals, in_flight: int) -> float | None:
        """A refusal came (`in_flight`: ours still on the wire): the seconds its `Retry-After` says to wait."""
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
        if current_figure is not None and current_figure - 1 > in_flight:
            self.key_progress = now  # other processes hold slots: the key serves them
        return retry_after

    def succeeded(self, now: float) -> None:
        self.last_success = now
        self._in_a_row = 0

    def floor(self) -> float:
        """The least wait after a refusal: 0.5 s doubling with refusals in a row up to 8 s (and a window), jittered."""
        floor = min(RETRY_FLOOR * 2 ** min(self._in_a_row - 1, 4), self.window, MAX_RETRY_AFTER)
        return float(floor * self.random.uniform(0.5, 1.0))

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
