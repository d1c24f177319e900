"""This process's share of the key's concurrency: how many requests it may have in flight (`bound`).

The model: additive increase, multiplicative decrease with jitter; no process talks to another.

1. Start: what the user stated (a component's `max_concurrency`, the concurrency of `JINA_RATE_LIMITS`) is the key's
   total, used from the first request; with nothing stated, 5 (the Free tier's), then 6, then doubling after each
   full round without a refusal, up to 500 (`Ramp`). A refusal's "{current}/N" names the key's total, a ceiling.
2. Decrease: a concurrency refusal lowers the share once per round, by the same part of every share on one key (to
   85-95% on a key of 8 slots or more, 50-80% on a smaller one), so shares even out (`refused`).
3. Increase: one slot per probe interval (5-10 answers' time); a share below a level known to fit (a glitch, a
   burst refused whole) grows back to it by a quarter a round (`served`); probes whose growth finds room speed up
   (`Probe`), and room the key's remaining-requests figures show is taken in one step, after which the probes grow
   on (`key_load.RoomGrowth`).
4. Fairness: once per probe interval a process at its level leaves one slot free for an answer's time; a process
   that came later takes it, and the holder's next request is refused (`Probe`).
5. Same host (opt-in, `host_share.py`): the key's total is split among the host's busy processes, a ceiling on top
   of the share (`split`).

The special cases (a burst refused at the start, a refusal with none or many of ours in flight, a share below one
request) are described where they are handled: `refused` and `served`.
"""

from __future__ import annotations

import math
import random

from haystack_integrations.common.jina.pacing.host_share import Peers
from haystack_integrations.common.jina.pacing.key_load import RoomGrowth
from haystack_integrations.common.jina.pacing.limits import MAX_CONCURRENCY, START_CONCURRENCY
from haystack_integrations.common.jina.pacing.signals import Signals
from haystack_integrations.common.jina.pacing.ticket import Ticket
from haystack_integrations.common.jina.pacing.timing import AnswerTime

#: The lowest share of the key's concurrency a process goes down to: one request at a time, half of the time. A
#: process that waits longer between tries misses the slots the holders leave free (their probes) and starves: on a
#: Free key (5 slots) at 1/8, the least served of 4 processes got 0.02-0.31 of its fair share in its worst minute.
MIN_SHARE = 1 / 2
#: What a concurrency refusal leaves of the share it hit (drawn anew each time, so processes desynchronise); on a
#: key of `LARGE` slots or more (or, its total unknown, from a share of `LARGE` requests up), unless a per-minute
#: budget binds, `GENTLE_DECREASE`.
DECREASE = (0.5, 0.8)
GENTLE_DECREASE = (0.85, 0.95)
LARGE = 8
#: A burst's refusals come back within this part of an answer's time after the first of them lowered the share.
BURST = 0.5
#: A burst of which the key admitted less than this part (a process that came after the key filled) keeps the
#: share its first refusal left as the level to grow back to, and keeps looking while others hold the key.
WHOLE = 1 / 16
#: Same-host sharing: a new part is handed over within this many answers' time (the others' old requests end);
#: a refusal meanwhile holds the share at what it has in flight (one at least), doubling every `HOLD` answers' time
#: without a refusal up to the part (a newcomer sends one request, then two...: not its whole part again and again).
HANDOVER = 1.5
HOLD = 0.25
#: Each probe's growth used in full and not refused cuts the wait before the next by this factor (down to one
#: answer's time), and from the second in a row doubles its step (see `Probe`).
SPEED_UP = 2.0
#: The key's figures showing this part of its total in flight: growth that was not refused found no room, it took
#: slots the others were about to use again (their next requests are refused, not ours), so it does not speed up.
FULL = 0.9


class Ramp:
    """The bound of components that stated nothing: 5, then 6, then doubling after each full round at it."""

    def __init__(self) -> None:
        self.bound = START_CONCURRENCY
        self._successes = 0

    def served(self, ticket: Ticket) -> None:
        if ticket.others + 1 < self.bound:
            return  # the round did not use the bound
        self._successes += 1
        if self._successes >= self.bound:  # a full round at the bound: +1 first, then x2
            self.bound = min(MAX_CONCURRENCY, self.bound + 1 if self.bound == START_CONCURRENCY else 2 * self.bound)
            self._successes = 0


class ConcurrencyShare:
    """
    This process's share of the key's concurrency (see the module docstring). Every method takes the time.

    :param window: Seconds per rate-limit window.
    :param rng: Where the jitter comes from (the policy's).
    :param timing: How long answers take (probe intervals and gaps follow from it).
    """

    def __init__(self, window: float, rng: random.Random, timing: AnswerTime) -> None:
        self.window = window
        self.random = rng
        self.timing = timing
        self.stated: int | None = None
        self.key_limit: int | None = None  # the key's total, as a concurrency refusal's detail names it
        self._key_limit_at = 0.0  # forgotten a window later (the key may have moved to a higher tier)
        self.ramp = Ramp()  # the bound of components that stated nothing, growing from 5
        self.share: float | None = None  # this process's share of the key's concurrency, once a refusal lowered it
        self.plateau = 0.0  # the share a refusal last hit: growth above it is slow (one slot per probe interval)
        self.probe = Probe(self, window, timing)
        self.round = 0  # the share's generation: bumped by each decrease
        self.fits = 0.0  # the share known to fit: a refused request above it was a probe
        self._lowered_at = 0.0  # when the round last changed
        self._lowered_from = 0.0  # the level the last decrease cut
        self._burst_share = 0.0  # the share the last decrease left
        self.budget_refused_at: float | None = None  # an RPM / TPM refusal's time (the key bursts at window starts)
        self.budget_held_at: float | None = None  # when an RPM / TPM budget last held a request of ours back
        self._lone_refusals = 0  # concurrency refusals in a row with none of ours in flight
        self.next_send = 0.0  # below one request's share: when the next may go
        self.room = RoomGrowth(timing)  # growth into the room the key's remaining-requests figures show
        self.host_part: int | None = None  # same-host sharing (opt-in): this process's part of the key's total
        self._handover_until = 0.0  # the part changed: the others' requests over it are still in flight until then
        self._held: tuple[int, float] | None = None  # refused in a hand-over: (a bound, until when)
        self.wait_for_ours = False  # refused with many of ours in flight: the next goes when one of ours is served

    @property
    def concurrency(self) -> int | None:
        """This process's bound on the key as far as it is known (lowered by refusals, or stated); `None`: neither."""
        known = [v for v in (self.stated, self.key_limit) if v is not None]
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
        if self.stated is not None:
            bound = self.stated
        elif cap is not None:  # a component that states its own cap is bounded by it (in the client), not the ramp
            bound = MAX_CONCURRENCY
        else:
            bound = self.ramp.bound
        if self.key_limit is not None:
            bound = min(bound, self.key_limit)
        if self.share is not None:
            bound = min(bound, max(1, int(self.share)))
        if self.host_part is not None:
            held = self._held[0] if self._held is not None else bound
            return min(bound, self.host_part, held)  # the others on this host take the rest: nothing to leave them
        return bound - 1 if self.probe.yielding else bound

    def state(self, concurrency: int) -> None:
        """A stated total replaces what was learned."""
        self.stated, self.share, self.key_limit = concurrency, None, None

    def split(self, now: float, peers: Peers | None) -> None:
        """
        Same-host sharing (`host_share.py`): `peers`, the busy processes of this host on the key (`None`: not
        shared). When this process's part of the key's total changes, a share that refusals lowered (other
        hosts, or a key smaller than stated) keeps its proportion of the part; if none did and the part grew,
        refusals in the next 1.5 answers' time (the others still hold their old parts) lower nothing: the share
        holds at what it has in flight (one at least), and doubles every quarter of an answer's time not refused.
        """
        total = self.ceiling()
        new = None if peers is None or total is None else peers.part(total)
        if new == self.host_part:
            return
        if self.share is not None and self.host_part is not None and new is not None:
            ratio = new / self.host_part
            self.share, self.plateau, self.fits = self.share * ratio, self.plateau * ratio, self.fits * ratio
            self.forget_share_above_ceiling()
        if new is not None and (self.host_part is None or new > self.host_part):  # slots come to us: wait for them
            self._handover_until = now + HANDOVER * self.timing.typical()
            if self.host_part is None and peers is not None and peers.count > 1 and self._held is None:
                self._held = (1, now + self._hold())  # joining busy processes: one request first, then doubling
        self.host_part = new

    def _hold(self) -> float:
        return HOLD * self.timing.typical()

    def below_one(self) -> bool:
        """Whether the share is below one request: one at a time, with gaps (`next_send`)."""
        return self.share is not None and self.share < 1

    def level(self, in_flight: int) -> float:
        """The share a request sent now uses."""
        return self.share if self.share is not None else float(in_flight + 1)

    # ------------------------------------------------------------------ before a request
    def ready(self, now: float, in_flight: int, window_left: float) -> None:
        """
        Before a decision: forget a key limit named a window ago, grow into room the key's figures show, and probe
        (see `Probe`). `window_left`: seconds until the current per-minute window closes at the latest.
        """
        if self.key_limit is not None and now - self._key_limit_at >= self.window:
            # a window without a refusal naming it: grow from it, one slot per probe interval
            if self.share is None:
                self.share = self.plateau = self.fits = float(self.key_limit)
            self.key_limit = None
        if self._held is not None and now >= self._held[1]:  # not refused since: twice as many (slow start)
            more = 2 * self._held[0]
            self._held = None if self.host_part is None or more >= self.host_part else (more, now + self._hold())
        self.room.grow(self, now, in_flight, window_left)
        self.probe.step(now, in_flight)

    def room_means_nothing(self, now: float) -> bool:
        """Whether room in flight says nothing of the key's: a per-minute budget paces us, or the key is small."""
        ceiling = self.ceiling()
        return self.budget_binds(now) or (ceiling is not None and ceiling < LARGE)

    def budget_binds(self, now: float) -> bool:
        """Whether a per-minute budget refused or held back a request of ours within two windows."""
        return self.budget_refusing(now) or self.budget_held(now)

    def ceiling(self) -> int | None:
        """The key's total, as stated or as a refusal named it (the lower)."""
        known = [v for v in (self.stated, self.key_limit) if v is not None]
        return min(known) if known else None

    def forget_share_above_ceiling(self) -> None:
        ceiling = self.ceiling()
        if self.share is not None and ceiling is not None and self.share >= ceiling:
            self.share = None  # back at the stated total: nothing lowered any more
        elif self.share is not None and self.share >= MAX_CONCURRENCY:
            self.share = None

    # ------------------------------------------------------------------ after an answer
    def answered(self, now: float) -> None:
        """A request of ours ended: below one request's share, the next waits a gap."""
        if self.share is not None and self.share < 1:
            self.next_send = now + self.timing.typical() * (1 / self.share - 1) * self.random.uniform(0.5, 1.5)

    def served(self, ticket: Ticket) -> None:
        """
        A request of ours was served: below one request, the gaps halve (to those of the level known to fit, the
        `plateau`); a probe's step takes one slot an answer; below the plateau, a quarter more a round (twice as
        much a round back to a host's part).
        """
        self._lone_refusals = 0
        self.wait_for_ours = False
        if self.share is not None and ticket.round == self.round:
            self.fits = max(self.fits, min(self.share, float(ticket.others + 1)))
        if self.share is not None:
            # sharing a host: the part is this process's, whatever refused it (others handing over, other hosts)
            plateau = self.plateau if self.host_part is None else max(self.plateau, float(self.host_part))
            if self.share < 1:  # one request at a time with gaps: the gaps halve
                self.share = min(plateau, 1.0, self.share * 2)
            elif self.share < self.probe.goal and ticket.others + 2 >= int(ticket.level):  # a probe's step
                self.share = self.plateau = min(self.probe.goal, self.share + 1)  # one slot an answer
            elif self.share < plateau and ticket.others + 2 >= int(ticket.level):  # it used its bound
                # below the level that was not refused: a quarter more a round (one slot at least; a round: `share`
                # answers), so a large share comes back in a few rounds; twice as much a round to a host's part
                step = self.share if self.host_part is not None else max(1.0, self.share / 4)
                self.share = min(plateau, self.share + step / self.share)
            if self.host_part is not None and self.share >= self.host_part:
                self.share = None  # back at its part: nothing lowered any more
            return
        if self.stated is None:  # stated: nothing grows
            self.ramp.served(ticket)

    def refused(self, now: float, ticket: Ticket, answer: Signals, retry_after: float | None, in_flight: int) -> float:
        """
        A concurrency refusal, with `in_flight` of ours still on the wire: the time to pause until (0: none).

        - It lowers the share once per round (multiplicative decrease with jitter; not below one request while one
          of ours is in flight): to 85-95% of what it had in flight on a key of 8 slots or more (the others grow one
          slot per probe interval, so a deep cut leaves the key idle), to 50-80% on a smaller key or while a
          per-minute budget binds (bursts at each window's start).
        - A burst's further refusals, as they come back, lower the share to what stays in flight: what the key
          admitted of ours (processes that start together at a stated total fill the key, no more, instead of
          cutting again and again); later only on a key smaller than stated (`_in_burst`).
        - With many of ours in flight, the next request waits until one of ours is served (sent again at once, it
          meets the full key again).
        - A burst the key refused (nearly) whole came after another process filled the key: it keeps looking every
          few tenths of a second, and once one request is served grows back a quarter a round to the level its
          first refusal left (the one that filled the key may be done soon).
        - If the refusal counts others' requests in flight, growth from the new level is slow (one slot per probe
          interval); if not (ours alone, a glitch), it grows back a quarter a round to just below where it was
          refused. A probe above the level that fitted, refused, goes back to that level, not lower.
        - With none of ours in flight (someone else holds the key): a short pause; three in a row lower the share
          below one request, sent one at a time with gaps (one in flight half the time at least, `MIN_SHARE`).
        - Sharing a host, a refusal while parts change hands holds the share for a moment instead (`split`).
        """
        until = 0.0
        # the key is full: sent again at once, the request would be refused again (and again, an answer's time
        # long); the next of ours takes the slot one of ours leaves (a few in flight: the next answer is far off;
        # sharing a host, a refusal in a hand-over holds the share for a moment instead, see `split`)
        self.wait_for_ours = in_flight >= LARGE and self.host_part is None
        stated = answer.concurrency_limit
        if stated is not None:  # the detail names the key's total ("{current}/N"): a ceiling, not our share
            self.key_limit, self._key_limit_at = stated, now
        if retry_after is not None:
            until = now + retry_after
        if self.host_part is not None and self.share is None and now < self._handover_until:
            # the others on this host are handing over: the slot is ours once their old parts end (unless refusals
            # lowered our part before: other hosts, or a key smaller than stated, refuse as they did)
            self._held = (max(1, in_flight), now + self._hold())
            return until if in_flight else max(until, self._held[1])  # none of ours out: not again at once
        if not in_flight and not ticket.others and (self.share is None or self.share >= 1):
            # none of ours holds the key: someone else does. A slot of theirs frees when one of their requests
            # ends; look again soon. Refusals in a row like this lower the share below one request.
            self._lone_refusals += 1
            # a burst refused whole keeps looking: the process that holds the key may be done soon
            if self._lone_refusals < 3 or (self.share is not None and self.plateau > self.share):
                pause = self.random.uniform(0.1, 0.3) * min(1.0, self.window)
                return max(until, now + pause)
        current = answer.concurrency_current
        others = current is not None and current - 1 > in_flight  # others hold slots of the key too
        if ticket.round != self.round:  # the share was lowered after this request was sent: once per round
            # (a detail we cannot read says nothing of the others: what stays in flight is still what it admitted)
            if (others or current is None) and ticket.round == self.round - 1 and self._in_burst(now, ticket, answer):
                # the rest of a burst's refusals: what stays in flight is what the key admitted of ours
                assert self.share is not None  # lowered by the refusal that began the round
                self.share = self.fits = max(1.0, min(self.share, float(in_flight)))
                self.probe.goal = 0.0
                if in_flight >= WHOLE * self._burst_share:  # else refused (nearly) whole: grow back to it
                    self.plateau = self.share
                else:
                    self.plateau = self._burst_share
            return until
        if others and self.share is not None and self.fits >= 1 and ticket.others + 1 > int(self.fits):
            # a probe above the level that fitted was refused: the key is full, nobody took ours
            self.share = self.plateau = self.fits
            self._next_round(now)
            return until
        # what we held when refused: ours still on the wire and this one (refusals come back at once, so in a
        # burst that is what the burst sent, not what the server admitted)
        level = max(float(in_flight + 1), ticket.level) if self.share is None else ticket.level
        if current is not None and 0 < current - 1 <= in_flight:
            # every request the key holds is ours: its limit is what we hold, exactly; no more to learn
            self.share = self.plateau = self.fits = float(current - 1)
            self._next_round(now)
            return until
        # a process that holds a slot keeps one; only refusals with none of ours on the wire go below one
        least = 1.0 if in_flight or level > 1 else MIN_SHARE
        self.share = self.fits = max(least, level * self.random.uniform(*self._decrease(now, level)))
        self._lowered_from = level
        self._burst_share = self.share
        if others:
            self.plateau = self.share  # from here, slowly (one slot per probe interval)
        else:  # the level below the refused one, as far as we know ours alone: grow back to it quickly
            self.plateau = max(self.share, level - 1)
        self._next_round(now)
        if self.share < 1:
            self.next_send = now + self.timing.typical() * (1 / self.share - 1)
        return until

    def _next_round(self, now: float) -> None:
        self.round += 1
        self._lowered_at = now
        self.probe.reset(now)

    def budget_refusing(self, now: float) -> bool:
        """Whether an RPM / TPM refusal came within two windows: then bursts at each window's start are refused."""
        return self.budget_refused_at is not None and now - self.budget_refused_at <= 2 * self.window

    def budget_held(self, now: float) -> bool:
        """Whether an RPM / TPM budget held a request of ours back within two windows (it binds, not concurrency)."""
        return self.budget_held_at is not None and now - self.budget_held_at <= 2 * self.window

    def _decrease(self, now: float, level: float) -> tuple[float, float]:
        # by the key's size (`room_means_nothing` covers a key under `LARGE`), not the share's: the same part of every
        # process's share, or the small shares are cut harder than the large ones and the shares never even out
        # (with 8 processes on 50 slots, one kept 3 slots for minutes while another held 15)
        unknown_and_small = self.ceiling() is None and level < LARGE
        return DECREASE if unknown_and_small or self.room_means_nothing(now) else GENTLE_DECREASE

    def _in_burst(self, now: float, ticket: Ticket, answer: Signals) -> bool:
        """
        Whether a refusal of the last round belongs to the burst whose first refusal cut a large share: the first
        burst, or a later one on a key smaller than stated (or whose total the detail does not name). Later, on a
        key as large as stated, refusals that come together are the others taking the slots our answers free
        (another process's growth): what stays in flight then is not what the key admits of ours, and setting the
        share to it left a process at 1-4 of 50 slots for minutes while another held 25-35.
        """
        key = answer.concurrency_limit
        as_stated = self.stated is not None and key is not None and key >= self.stated
        return (
            now - self._lowered_at <= BURST * self.timing.typical()
            and self._lowered_from >= LARGE
            and not self.budget_refusing(now)
            and (ticket.round == 0 or not as_stated)
        )


class Probe:
    """
    Once per probe interval, a process holding slots leaves one free for a couple of answers: another process
    waiting for a slot takes it, and our next request is refused, which lowers our share (else whoever came
    first would hold the key for good, never refused). Alone, that costs one slot for a moment, no refusal.
    After that, a share lowered by refusals and grown back to where it was refused tries one slot more.

    Growth that finds room speeds up: when the next probe comes and the last growth was used in full and not
    refused, the key had room. Then no slot is left first, and each such probe in a row halves the wait before
    the next (down to one answer's time) and, from the second, doubles its step (2, 4, 8 ... slots, at most the
    share), taken one slot per answer so that a refusal stops it at once. A refusal starts again from one slot a
    probe interval, the next probe no sooner than the probes' unhurried pace would have come (on a busy key,
    probes that find room by chance add no refusals). Not while a per-minute budget refuses or holds our
    requests back (the room in flight is the pacing's, not the key's).
    """

    def __init__(self, share: ConcurrencyShare, window: float, timing: AnswerTime) -> None:
        self.target = share  # what it grows, or makes leave a slot
        self.window = window
        self.timing = timing
        self.at: float | None = None
        self.yield_until = 0.0  # at the key's full limit: one slot left free until then
        self.yielding = False
        self._grow_after_yield = False
        self.streak = 0  # probes in a row whose growth found room
        self.goal = 0.0  # what the last probe grows the share to, one slot an answer
        self._grown_round = -1  # the share's round when it last grew (a refusal since bumps it)
        self._filled = False  # whether the share was used in full since it last grew
        self._paced = 0.0  # when the next probe would come at one a probe interval

    def later(self, now: float) -> None:
        interval = self.timing.probe_interval()
        self._paced = max(self._paced, now) + interval
        if self.streak:
            self.at = now + max(interval / SPEED_UP**self.streak, self.timing.typical())
        else:
            self.at = now + interval

    def reset(self, now: float) -> None:
        """The share was refused (or lowered): from here, one slot a probe interval again."""
        sped_up = self.streak > 0
        self.streak, self.goal = 0, 0.0
        self.later(now)
        if sped_up and self.at is not None:  # set by `later`
            self.at = max(self.at, self._paced)

    def step(self, now: float, in_flight: int) -> None:
        """Before a decision: leave a slot, or grow the share, when a probe is due."""
        target = self.target
        if self.at is None:  # not in the first window: what was stated runs in full at first
            self.at = now + self.window + self.timing.probe_interval()
        if target.share is not None and in_flight >= int(max(target.share, self.goal)):
            self._filled = True
        self.yielding = now < self.yield_until
        if self.yielding or now < self.at:
            return
        if self._grow_after_yield:
            self._grow_after_yield = False
            self._grow(now)
            return
        if target.share is not None and target.share < 1:  # it holds no slot: nothing to leave; the gaps halve
            target.share = target.plateau = min(1.0, target.share * 2)
            self.later(now)
            return
        full = target.ceiling()
        if (target.share is None and (full is None or in_flight < full - 1)) or (
            target.share is not None and target.share < target.plateau
        ):
            self.later(now)
            return  # not at the key's limit, or still growing back to it
        if target.share is not None and self._found_room(now):
            self._grow(now)  # no slot to leave: the key had room for the last growth
            return
        self.yield_until = now + self.timing.typical()
        self.yielding = True
        self._grow_after_yield = target.share is not None and target.share >= target.plateau

    def grew_into_room(self, now: float) -> None:
        """
        The share grew into room the key's figures showed (`RoomGrowth`, at 30% of the key idle or more): a growth
        like a probe's that found room, so two answers' time later (the figures show what it did) the next probe
        grows again, sped up, if that growth was used, not refused, and the key is not shown full. Before, the room
        below 30% waited for the probes' unhurried pace: 4 processes' finite jobs on one Tier 1 key left 10-14 of
        the 50 slots idle for seconds after each process ended.
        """
        self._grown_round, self._filled = self.target.round, False
        self.streak, self.goal = max(self.streak, 1), 0.0
        self.yield_until, self._grow_after_yield = 0.0, False
        self.at = now + 2 * self.timing.typical()

    def _found_room(self, now: float) -> bool:
        """Whether the last growth was used in full and not refused, on a key where that means room (see `FULL`)."""
        target = self.target
        if target.budget_binds(now) or self._grown_round != target.round or not self._filled:
            return False
        held, ceiling = target.room.load.in_flight(now), target.ceiling()
        return held is None or ceiling is None or held < FULL * ceiling

    def _grow(self, now: float) -> None:
        target = self.target
        if target.share is not None and target.share >= target.plateau:
            self.streak = self.streak + 1 if self._found_room(now) else 0
            target.fits = target.share
            if target.share >= 1:
                level = math.floor(target.share)
                self.goal = level + float(min(2 ** max(0, self.streak - 1), level))
                target.share = level + 1.0
            else:
                target.share = min(1.0, target.share * 2)
            target.plateau = target.share
            target.forget_share_above_ceiling()
            self._grown_round, self._filled = target.round, False
        self.later(now)
