"""How many requests the key holds in flight, read from the `X-RateLimit-Remaining-Requests` of our answers.

The figure is the key's: every request any process sends in the window lowers it. Its fall over the last few
answers' time is the key's request rate, and by Little's law that rate times the time an answer takes is what
the key holds in flight (assumed: the other processes' requests take about as long as ours; the reference
says nothing of concurrency on a served answer). A rise above the oldest figure kept means a new window: the
samples start again, as they do at our first served answer (before it, how long an answer takes is a guess);
a smaller rise is an answer overtaken on the way (answers come on several connections) and is passed over.
Figures are untrusted: one that falls by less than half our own requests served meanwhile is not the key's
count (frozen, or made up), and says nothing. So a process whose share
refusals cut learns that the others are done, and grows into the room they left.
"""

from __future__ import annotations

from collections import deque

from haystack_integrations.common.jina.pacing.timing import AnswerTime

#: The samples span this many answers' time.
SPAN_ANSWERS = 2.0
#: A figure that fell by less than this part of our own requests served meanwhile is not the key's count.
FALLS_WITH_OURS = 0.5


class KeyLoad:
    """
    The key's requests in flight, estimated from the remaining-requests figures of the answers (pure).

    :param timing: How long answers take (the span of the samples and Little's law follow from it).
    """

    def __init__(self, timing: AnswerTime) -> None:
        self.timing = timing
        self._samples: deque[tuple[float, int, int]] = deque()  # (when, the key's requests left, ours served)
        self._served = 0  # our answers served so far

    def heard(self, now: float, remaining: int | None, *, served: bool) -> None:
        """An answer came at `now` saying the key has `remaining` requests left in its window (`None`: not said)."""
        if served:
            self._served += 1
            if self._served == 1:
                self._samples.clear()
        if remaining is None or not self._served:
            return
        if self._samples and remaining > self._samples[-1][1]:
            if remaining <= self._samples[0][1]:
                return  # an answer that left the server before the last one came after it: nothing new
            self._samples.clear()  # above the oldest figure: a new window, whose count starts again
        self._samples.append((now, remaining, self._served))
        span = SPAN_ANSWERS * self.timing.typical()
        while len(self._samples) > 2 and now - self._samples[1][0] >= span:
            self._samples.popleft()

    def in_flight(self, now: float, window_left: float) -> float | None:
        """
        The key's requests in flight as of the last answers; `None` if unknown, or if its per-minute budget could
        bind (what is left would not last the `window_left` seconds until its window closes at this pace: then
        room in flight is not the key's to take).
        """
        if len(self._samples) < 2:
            return None
        (first, before, ours_before), (last, after, ours_after) = self._samples[0], self._samples[-1]
        typical = self.timing.typical()
        if last <= first or last - first < SPAN_ANSWERS * typical / 2 or now - last > typical:
            return None
        if before - after < FALLS_WITH_OURS * (ours_after - ours_before):
            return None  # it did not even count ours: not the key's count (frozen, or made up)
        rate = (before - after) / (last - first)
        return None if after < rate * window_left else rate * typical
