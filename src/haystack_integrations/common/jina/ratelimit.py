"""Pacing requests to Jina's rate limits, shared by every client in the process that uses the same key and host.

Jina limits each key's requests per minute (RPM), tokens per minute (TPM) and concurrent requests; a 429
names the limit (`RATE_REQUEST_LIMIT_EXCEEDED`, `RATE_TOKEN_LIMIT_EXCEEDED`,
`RATE_CONCURRENCY_LIMIT_EXCEEDED`) and answers carry `X-RateLimit-Remaining-Requests` and
`X-RateLimit-Remaining-Tokens` (OpenAPI `info.description`). A `RateLimiter` lives on the request loop
(`engine.py`), so it needs no lock. Its rules:

- Requests in flight for the key: what the user stated wins (a component's `max_concurrency`, or the
  concurrency of `JINA_RATE_LIMITS`), from the first request. With nothing stated, 5 (the Free tier's),
  then 6, then doubling after each full round without a refusal, up to 500 (the highest tier).
- A concurrency 429 while k of ours are on the wire lowers the bound to k (at least 1); with none of ours
  on the wire it lowers nothing (someone else holds the key) and pauses the key briefly. A window
  without such a refusal forgets the lowered bound, which then grows back from it (+1, then doubling).
- RPM / TPM: each request reserves 1 request and its estimated tokens from what the answers of the
  current window say is left (lowest figure wins). A new window starts from the lower of the stated limit
  and what the last window was seen to hold, and its first answer replaces that guess, up or down: a
  mid-window figure is never taken for the limit, and a limit stated too high costs one window. When it
  is spent, requests wait for the next window instead of being refused. Token estimates come from the
  characters sent, calibrated by the `usage` of earlier answers.
- Windows: the reference does not say how they are placed. A window of the server's, whether opened by
  our first request or sitting on a fixed clock, closes at most `window` seconds (a minute;
  `JINA_RATE_WINDOW` overrides it) after our first request in it, so that is when we send again; a
  `Retry-After` says exactly when. A refused request costs no budget (assumed).
- Nothing the server sends can stop the key: every figure is parsed defensively (anything odd is ignored
  and logged at debug), and no pause lasts over `MAX_RETRY_AFTER` (60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from haystack import logging

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.pacing.signals import (
    CONCURRENCY_LIMIT,
    REQUEST_LIMIT,
    TOKEN_LIMIT,
    Signals,
    count,
    finite,
    retry_after_seconds,
)

__all__ = ["CONCURRENCY_LIMIT", "REQUEST_LIMIT", "TOKEN_LIMIT", "count", "retry_after_seconds"]

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
#: Tokens per character before any answer has calibrated it: about 4 characters a token, as for English.
INITIAL_TOKENS_PER_CHAR = 0.25
#: Tokens reserved per image or PDF input. The reference gives no per-image count; answers correct it.
IMAGE_TOKENS = 1000
#: Requests in flight for a key when nobody stated its limit: the lowest published (the Free tier's).
START_CONCURRENCY = 5
#: The longest this package waits on its own for a rate limit (a Retry-After, a window).
MAX_RETRY_AFTER = 60.0
#: The highest published concurrency (Tier 2).
MAX_CONCURRENCY = 500
#: Limiters kept for keys with nothing in flight (least recently used ones are dropped beyond this).
MAX_IDLE_LIMITERS = 64


@dataclass(frozen=True)
class Limits:
    """Per-key limits; `None` means not known (or unlimited)."""

    rpm: int | None = None
    tpm: int | None = None
    concurrency: int | None = None


#: Jina's published tiers (OpenAPI `info.description`).
TIERS = {
    "free": Limits(rpm=500, tpm=1_000_000, concurrency=5),
    "tier1": Limits(rpm=500, tpm=10_000_000, concurrency=50),
    "tier2": Limits(rpm=5_000, tpm=100_000_000, concurrency=500),
}


def parse_limits(spec: str | Mapping[str, Any] | Limits | None) -> Limits | None:
    """A tier name (`free`, `tier1`, `tier2`), a mapping or `rpm=..,tpm=..,concurrency=..` string, or `Limits`."""
    if spec is None or isinstance(spec, Limits):
        return spec
    if isinstance(spec, str):
        name = spec.strip().lower().replace(" ", "").replace("_", "")
        if name in TIERS:
            return TIERS[name]
        if "=" not in spec:
            msg = f"Unknown tier {spec!r}; use one of {', '.join(TIERS)} or 'rpm=..,tpm=..,concurrency=..'"
            raise ValueError(msg)
        spec = dict(part.split("=", 1) for part in spec.replace(" ", "").split(",") if part)
    unknown = set(spec) - {"rpm", "tpm", "concurrency"}
    if unknown:
        msg = f"Unknown limit(s) {', '.join(sorted(unknown))}; use rpm, tpm and concurrency"
        raise ValueError(msg)
    try:
        values = {key: None if spec[key] is None else int(spec[key]) for key in spec}
    except (TypeError, ValueError):
        msg = f"Limits must be whole numbers: {dict(spec)}"
        raise ValueError(msg) from None
    if any(value is not None and value < 1 for value in values.values()):
        msg = f"Limits must be at least 1: {values}"
        raise ValueError(msg)
    return Limits(**values)


def env_limits() -> Limits | None:
    return parse_limits(os.environ.get("JINA_RATE_LIMITS") or None)


def env_window() -> float:
    raw = os.environ.get("JINA_RATE_WINDOW")
    value = finite(raw) if raw else None
    return value if value is not None and value > 0 else WINDOW_SECONDS


@dataclass(eq=False)
class Ticket:
    """One request's claim on the limiter, from `acquire` to `release`."""

    window: int  # which of our windows it was sent in
    others: int  # our requests already in flight when it was sent
    tokens: int  # reserved (estimated) tokens
    chars: int
    images: int
    path: str


@dataclass
class _Budget:
    """One per-minute budget (requests or tokens) as far as we know it."""

    limit: int | None = None  # stated by the user; never learned (a mid-window figure is not the limit)
    hint: float | None = None  # what the last window was seen to hold: where the next one starts, until told
    seen: float | None = None  # what the current window is seen to hold (the most of remaining + answered)
    left: float | None = None  # what is left of the current window; None: unknown, do not pace
    unsure: float = 0.0  # of `left`: what our requests in flight may not be counted in yet
    told: bool = False  # an answer of the current window said what is left
    answered: float = 0.0  # what our requests of the current window cost once answered

    def new_window(self) -> None:
        if self.seen is not None:
            self.hint = self.seen
        # a stated limit the last window was seen not to hold (a key shared, a tier stated too high) is not
        # trusted over what was seen; the window's first answer corrects the guess either way
        guesses = [value for value in (self.limit, self.hint) if value is not None]
        self.left = float(min(guesses)) if guesses else None
        self.unsure, self.told, self.answered, self.seen = 0.0, False, 0.0, None

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


class RateLimiter:
    """
    The pacing of one key on one host (see the module docstring). Use it only on the request loop.

    :param host: `scheme://host[:port]`, for `repr` only.
    :param stated: Limits the user stated; anything not stated is learned.
    :param window: Seconds per rate-limit window.
    """

    def __init__(self, host: str, stated: Limits | None = None, *, window: float = WINDOW_SECONDS) -> None:
        self.host = host
        self.window = window
        self._guard = min(window / 200 + 0.02, window / 10)  # timers and clocks are not exact
        self.in_flight = 0
        self._tickets: set[Ticket] = set()
        self.refused = 0
        self.stated_concurrency: int | None = None
        self.learned: int | None = None  # lowered by a concurrency refusal; forgotten after a quiet window
        self._learned_at = 0.0
        self.ramp = START_CONCURRENCY  # the bound of components that stated nothing, growing from 5
        self.probe: int | None = None  # after a lowered bound was forgotten: the bound of every request, growing
        self._ramp_successes = 0
        self._requests = _Budget()
        self._tokens = _Budget()
        # When the server's current window opened, at the latest: when our first answer of it came (before
        # that: when our first request of it was sent). Whether the server's windows open with a request or
        # sit on a clock, it closes at most `window` seconds later.
        self._window_start: float | None = None
        self._window_confirmed = False
        self._window_id = 0
        # Until an answer of the current window tells what is left, what we think is left is a guess (a stated
        # limit, or what the last window held) that another process on the key may have spent: if all we may
        # send at once could overrun it, one request goes first and the rest wait for its answer.
        self._untold = True
        self._paused_until = 0.0
        self._tokens_per_char: dict[str, float] = {}
        self._stated: Limits | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.state(stated)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(host={self.host!r}, concurrency={self.concurrency}, rpm={self._requests.limit}, "
            f"tpm={self._tokens.limit}, in_flight={self.in_flight})"
        )

    @property
    def concurrency(self) -> int | None:
        """The key's bound as far as it is known: learned from a refusal, else stated; `None` if neither."""
        return self.learned if self.learned is not None else self.stated_concurrency

    def bound(self, cap: int | None) -> int:
        """Requests of the key allowed in flight for a component whose own stated cap is `cap` (`None`: not stated)."""
        if self.learned is not None:
            return self.learned
        if self.stated_concurrency is not None:
            bound = self.stated_concurrency
        else:  # a component that states its own cap is bounded by it (in the client), not slowed to the ramp
            bound = MAX_CONCURRENCY if cap is not None else self.ramp
        return bound if self.probe is None else min(bound, self.probe)

    def state(self, limits: Limits | None) -> None:
        """Take known limits (a stated tier): they replace what was learned. Stating the same again is a no-op."""
        if limits is None or limits == self._stated:
            return
        self._stated = limits
        if limits.concurrency is not None:
            self.stated_concurrency, self.learned = limits.concurrency, None
        for budget, limit in ((self._requests, limits.rpm), (self._tokens, limits.tpm)):
            if limit is not None:
                budget.limit = limit
                if budget.left is None:
                    budget.left = float(limit)
        self._wake()

    # ------------------------------------------------------------------ before a request
    async def acquire(
        self, url: str, payload: Any, cap: int | None = None, size: tuple[int, int] | None = None
    ) -> Ticket:
        """
        Wait until a request fits the limits, then reserve its share.

        :param cap: The sending component's stated `max_concurrency`, if any (see `bound`).
        :param size: Characters and images of the body, when `payload` is not the body itself.
        """
        path = urlsplit(url).path
        chars, images = size if size is not None else _size(payload)
        loop = asyncio.get_running_loop()
        queued = False
        while True:
            # estimated anew after each wait: answers that came meanwhile calibrate it
            tokens = round(chars * self._tokens_per_char.get(path, INITIAL_TOKENS_PER_CHAR)) + images * IMAGE_TOKENS
            wait = self._wait_before_sending(loop.time(), tokens, cap)
            if wait == 0:
                break
            waiter = loop.create_future()
            # in order of arrival: a waiter woken but still blocked goes back to the front
            if queued:
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            queued = True
            try:
                if wait is None:
                    await waiter
                else:
                    await asyncio.wait_for(asyncio.shield(waiter), min(wait, MAX_RETRY_AFTER))
            except asyncio.TimeoutError:
                pass
            except BaseException:
                self._discard(waiter)
                self._wake()  # pass on a wake-up this waiter may have taken
                raise
            self._discard(waiter)
        if self._window_start is None:
            self._window_start = loop.time()
        ticket = Ticket(self._window_id, self.in_flight, tokens, chars, images, path)
        self._tickets.add(ticket)
        self.in_flight += 1
        self._requests.spend(1)
        self._tokens.spend(tokens)
        self._wake()  # the next in line may fit too
        return ticket

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # woken and removed already
            self._waiters.remove(waiter)

    def _wake(self) -> None:
        """Wake the first waiter; it wakes the next when it goes (one at a time keeps the order)."""
        while self._waiters:
            waiter = self._waiters[0]
            if not waiter.done():
                waiter.set_result(None)
                return
            self._waiters.popleft()

    def _wait_before_sending(self, now: float, tokens: int, cap: int | None) -> float | None:
        """0 to send now, else seconds to wait (`None`: until a request finishes)."""
        if now < self._paused_until:
            return self._paused_until - now
        if self._window_start is not None and now >= self._window_start + self.window + self._guard:
            self._new_window()
        if self.learned is not None and now - self._learned_at >= self.window:
            # a quiet window: the key's other users may have gone; grow back from the lowered bound
            self.probe, self._ramp_successes, self.learned = self.learned + 1, 0, None
        bound = self.bound(cap)
        if self.in_flight >= bound or (self._untold and self.in_flight and self._could_overrun(bound, tokens)):
            return None
        settled = not self.in_flight
        if self._requests.blocks(1, settled=settled) or self._tokens.blocks(tokens, settled=settled):
            if self.in_flight:
                return None  # their answers will tell what is really left
            # the window's budget is spent: wait until it has surely closed rather than be refused
            start = self._window_start if self._window_start is not None else now
            self._paused_until = start + self.window + self._guard
            return max(self._paused_until - now, self._guard)
        return 0

    def _could_overrun(self, bound: int, tokens: int) -> bool:
        """Whether `bound` requests like this one could spend more than we think is left of the window."""
        return any(
            budget.left is not None and bound * cost > budget.left
            for budget, cost in ((self._requests, 1), (self._tokens, tokens))
        )

    def _new_window(self) -> None:
        self._window_start = None
        self._window_confirmed = False
        self._untold = True
        self._window_id += 1
        self._requests.new_window()
        self._tokens.new_window()

    # ------------------------------------------------------------------ after an answer
    def release(self, ticket: Ticket, answer: Signals | None) -> None:
        """Learn from what the answer said (`None`: no answer came) and free the request's slot. Never raises."""
        if ticket not in self._tickets:
            return  # released already
        self._tickets.discard(ticket)
        self.in_flight -= 1
        try:
            self._learn(ticket, answer)
        except Exception as error:  # a bug must not cost the key a slot
            logger.debug("Rate limiter could not read an answer: {error}", error=repr(error)[:200])
        self._wake()

    def _learn(self, ticket: Ticket, answer: Signals | None) -> None:
        current = ticket.window == self._window_id
        status = answer.status if answer is not None else None
        if status == 429 and answer is not None:
            self._refused(ticket, answer, current)
        elif answer is not None and answer.served:
            self._ramp_up(ticket)
            if current:
                actual = self._calibrate(ticket, answer)
                self._requests.settle(1, 1)
                self._tokens.settle(ticket.tokens, ticket.tokens if actual is None else actual)
        elif current:  # not served: the server counts only what it admits (assumed)
            self._requests.spend(-1)
            self._tokens.spend(-ticket.tokens)
        if answer is not None and current:
            self._untold = False
            if not self._window_confirmed:
                self._window_start, self._window_confirmed = asyncio.get_running_loop().time(), True
            self._observe_headers(answer)

    def _ramp_up(self, ticket: Ticket) -> None:
        """A full round of successes at the growing bound (the probe, else the ramp) raises it: +1 first, then x2."""
        if self.learned is not None:
            return
        if self.probe is None and self.stated_concurrency is not None:
            return  # stated and never refused: nothing grows
        current = self.probe if self.probe is not None else self.ramp
        if ticket.others + 1 < current:
            return
        self._ramp_successes += 1
        if self._ramp_successes >= current:
            grown = current + 1 if current == START_CONCURRENCY else 2 * current
            grown = min(MAX_CONCURRENCY, grown)
            if self.probe is not None:
                self.probe = None if grown >= MAX_CONCURRENCY else grown
            else:
                self.ramp = grown
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

    def _observe_headers(self, answer: Signals) -> None:
        mine = [t for t in self._tickets if t.window == self._window_id]
        figures = (
            (self._requests, answer.remaining_requests, len(mine)),
            (self._tokens, answer.remaining_tokens, sum(t.tokens for t in mine)),
        )
        for budget, remaining, in_flight in figures:
            if remaining is not None:
                budget.observe(remaining, in_flight, served=answer.served)

    def _refused(self, ticket: Ticket, answer: Signals, current: bool) -> None:
        self.refused += 1
        now = asyncio.get_running_loop().time()
        code = answer.code
        retry_after = answer.retry_after
        if retry_after is not None:
            retry_after = min(retry_after, MAX_RETRY_AFTER)  # a longer wait fails the call (the client), not the key
        if current:
            self._requests.spend(-1)
            self._tokens.spend(-ticket.tokens)
        if code == CONCURRENCY_LIMIT:
            # The server holds at most the requests of ours still in flight (a refusal is immediate, they
            # take a while): the bound becomes that. With none of ours in flight, someone else holds the key:
            # that says nothing of its limit, so only pause.
            held = self.in_flight
            stated = answer.concurrency_limit
            if stated is not None:  # the message names the key's limit ("{current}/N concurrent requests")
                self.learned, self._learned_at = stated, now
            elif held:
                self.learned = min(self.learned or held, held)
                self._learned_at = now
            else:
                # a slot of theirs frees when one of their requests ends: look again soon
                pause = retry_after if retry_after is not None else random.uniform(0.1, 0.3) * min(1.0, self.window)
                self._paused_until = max(self._paused_until, now + pause)
        elif code in (REQUEST_LIMIT, TOKEN_LIMIT):
            spent = self._requests if code == REQUEST_LIMIT else self._tokens
            spent.left, spent.unsure = 0.0, 0.0
            if retry_after is not None:
                # the window closes in `retry_after` seconds: align ours on it
                self._window_start = now + retry_after - self.window - self._guard
                self._window_confirmed = True
            elif self._window_start is None or self._window_start + self.window + self._guard <= now:
                # no window of ours is open (someone else opened the server's): it closes within a window
                self._window_start, self._window_confirmed = now, True
            self._paused_until = self._window_start + self.window + self._guard
        elif retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)

    def retry_delay(self, code: str | None, status: int | None) -> float | None:
        """Seconds to sleep before retrying a failed request; `None`: the client's own backoff."""
        if status == 429 and code in (CONCURRENCY_LIMIT, REQUEST_LIMIT, TOKEN_LIMIT):
            return 0.0  # `acquire` waits exactly as long as needed
        return None


# ---------------------------------------------------------------------- one limiter per key and host
_limiters: OrderedDict[tuple[bytes, str], RateLimiter] = OrderedDict()


def forget_all() -> None:
    """Drop every limiter: what was learned starts afresh (a forked child does this on its own)."""
    global _limiters  # noqa: PLW0603
    _limiters = OrderedDict()


fork.on_fork_in_child(forget_all)


def limiter_for(auth: str, url: str, stated: Limits | None = None) -> RateLimiter:
    """
    The limiter shared by every client in this process that sends `auth` (the key) to `url`'s host.

    The registry holds a hash of the key, never the key; limiters with nothing in flight beyond the
    `MAX_IDLE_LIMITERS` most recently used are dropped, so it stays bounded by what is live.
    """
    parts = urlsplit(url)
    host = f"{parts.scheme}://{parts.netloc}"
    key = (hashlib.sha256(auth.encode()).digest(), host)
    limiter = _limiters.get(key)
    if limiter is None:
        limiter = _limiters[key] = RateLimiter(host, env_limits(), window=env_window())
        if len(_limiters) > MAX_IDLE_LIMITERS:
            for old_key, old in list(_limiters.items())[: len(_limiters) - MAX_IDLE_LIMITERS]:
                if not old.in_flight and not old._waiters:
                    del _limiters[old_key]
    else:
        _limiters.move_to_end(key)
    if stated is not None:
        limiter.state(stated)
    return limiter


def _size(payload: Any) -> tuple[int, int]:
    """
    Characters of text and number of images a request carries (rerank: the query counts once per document).

    `payload` is a JSON mapping, or a body serialized in pieces (`client.JsonBody`, for images): there the
    images are counted from the small pieces, without scanning their base64.
    """
    pieces = getattr(payload, "pieces", None)
    if isinstance(pieces, list):
        small = [piece for piece in pieces if len(piece) < 4096]
        return 0, sum(piece.count(b'"image"') + piece.count(b'"pdf"') for piece in small)
    if not isinstance(payload, Mapping) or not payload:
        return 0, 0
    chars = images = 0
    items = payload.get("input", payload.get("documents"))
    if isinstance(items, str | dict):
        items = [items]
    number = 0
    for item in items if isinstance(items, list) else ():
        number += 1
        if isinstance(item, str):
            chars += len(item)
        elif isinstance(item, dict):
            text = item.get("text")
            if isinstance(text, str):
                chars += len(text)
            elif "image" in item or "pdf" in item:
                images += 1
    query = payload.get("query")
    if isinstance(query, str):
        chars += len(query) * max(1, number)
    return chars, images
