"""How many requests the key holds in flight, read from the `X-RateLimit-Remaining-Requests` of our answers.

The figure is the key's: every request any process sends in the window lowers it. Its fall over the last
answer's time is the key's request rate, and by Little's law that rate times the time an answer takes is what
the key holds in flight (assumed: the other processes' requests take about as long as ours; the reference
says nothing of concurrency on a served answer). A rise above the oldest figure kept means a new window: the
samples start again, as they do at our first served answer (before it, how long an answer takes is a guess);
a smaller rise is an answer overtaken on the way (answers come on several connections) and is passed over.
Figures are untrusted: one that falls by less than half our own requests served meanwhile is not the key's
count (frozen, or made up), and says nothing. So a process whose share refusals cut learns that the others are
done, and grows into the room they left (`RoomGrowth`).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from haystack_integrations.common.jina.pacing.timing import AnswerTime

if TYPE_CHECKING:
    from haystack_integrations.common.jina.pacing.concurrency import ConcurrencyShare

#: The samples span this many answers' time (in which every request in flight is replaced once); a growth into room
#: waits as long for the figures to show what it did. Two answers' time made processes react a second later at 1 s
#: a request: finite jobs of four processes on one Tier 1 key took 1.47x the ideal in simulation, now 1.44x.
SPAN_ANSWERS = 1.0
#: A figure that fell by less than this part of our own requests served meanwhile is not the key's count.
FALLS_WITH_OURS = 0.5
#: Room the figures show, as a part of the key's total, that a lowered share grows into (half of it at most).
ROOM = 0.3
#: The key holding at most this many times our own requests in flight (and one more) is ours alone.
ALONE = 1.1
#: A growth into room that a refusal followed doubles the wait before the next (figures that count only ours, as
#: a proxy's might, or others growing too), up to this many times; one that was not refused resets it.
ROOM_BACKOFF = 64.0


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

    def in_flight(self, now: float, window_left: float = 0.0) -> float | None:
        """
        The key's requests in flight as of the last answers; `None` if unknown, or if its per-minute budget could
        bind (what is left would not last the `window_left` seconds until its window closes at this pace: then
        room in flight is not the key's to take; 0: not asked).
        """
        if len(self._samples) < 2:
            return None
        (first, before, ours_before), (last, after, ours_after) = self._samples[0], self._samples[-1]
        typical = self.timing.typical()
        if last <= first or last - first < SPAN_ANSWERS * typical / 2 or now - last > typical:
            return None
        if ours_after == ours_before or before - after < FALLS_WITH_OURS * (ours_after - ours_before):
            return None  # it did not even count ours (or none of ours was served to count): not the key's count
        rate = (before - after) / (last - first)
        return None if after < rate * window_left else rate * typical


class RoomGrowth:
    """
    A share that refusals lowered, and that it uses in full, on a key of `LARGE` slots or more, takes part of the
    room the key's figures show (the others are done, or cut): at least `ROOM` of the key idle for half an
    answer's time; its part of what the key holds, half the room at most (the others see the same room), all of
    it when the key holds little more than ours (alone); then it looks again once the figures show what that did,
    an answer's time later. Figures are untrusted: a growth that a refusal followed doubles the wait before the
    next and from then at most doubles the share (a key whose figures lie costs a few refusals, not a storm).
    Each growth into room counts as a probe's growth that found room (`Probe.grew_into_room`): below `ROOM`, the
    probes go on growing the share, sped up, while their growth is not refused and the key is not shown full.

    :param timing: How long answers take.
    """

    def __init__(self, timing: AnswerTime) -> None:
        self.timing = timing
        self.load = KeyLoad(timing)  # the key's requests in flight, from its remaining-requests figures
        self._taken_at = -math.inf  # when the share last grew into room
        self._round: int | None = None  # the share's round then (a refusal since bumped it)
        self._backoff = 1.0  # the wait before the next growth, in `SPAN_ANSWERS` answers' times
        self._seen_at: float | None = None  # since when the figures show room, without a break

    def grow(self, share: ConcurrencyShare, now: float, in_flight: int, window_left: float) -> None:
        """Before a decision: grow `share` into the room the figures show, if they show it (see the class)."""
        ceiling = share.ceiling()
        if share.share is None or ceiling is None or in_flight < int(share.share) or share.room_means_nothing(now):
            return
        if now < self._taken_at + SPAN_ANSWERS * self.timing.typical() * self._backoff or self._refused(share, now):
            return
        load = self.load.in_flight(now, window_left)
        if load is None:
            return
        held = max(load, float(in_flight))
        room = ceiling - held
        alone = held <= ALONE * in_flight + 1  # the others hold nothing: the key is ours, up to its total
        if room < (2.0 if alone else max(2.0, ROOM * ceiling)):
            self._seen_at = None
            return
        if self._seen_at is None:
            self._seen_at = now
        if now < self._seen_at + self.timing.typical() / 2:
            return  # room for a moment is noise: it must last half an answer's time
        self._seen_at = None
        self._taken_at, self._round = now, share.round
        # after a refused growth, at most double (the figures were wrong once)
        most = (room if alone else room / 2) if self._backoff == 1 else min(room / 2, float(in_flight))
        share.share = share.plateau = max(1.0, share.share) + max(1.0, min(most, room * (in_flight + 1) / (held + 1)))
        share.forget_share_above_ceiling()
        if share.share is not None:  # still below the key's total: probes that find room go on growing it
            share.probe.grew_into_room(now)

    def _refused(self, share: ConcurrencyShare, now: float) -> bool:
        """Once the last growth's wait is over: whether a refusal followed it (then the wait doubles, from now)."""
        if self._round is None:
            return False
        refused = self._round != share.round
        self._backoff = min(ROOM_BACKOFF, 2 * self._backoff) if refused else 1.0
        self._round = None
        if refused:
            self._taken_at = now
        return refused
