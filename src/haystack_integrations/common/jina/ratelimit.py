"""Pacing requests to Jina's rate limits, shared by every client in the process that uses the same key and host.

Jina limits each key's requests per minute (RPM), tokens per minute (TPM) and concurrent requests; a
429 names the limit (`RATE_REQUEST_LIMIT_EXCEEDED`, `RATE_TOKEN_LIMIT_EXCEEDED`,
`RATE_CONCURRENCY_LIMIT_EXCEEDED`) and answers carry `X-RateLimit-Remaining-Requests` and
`X-RateLimit-Remaining-Tokens` (OpenAPI `info.description`). A `RateLimiter` keeps requests within them
instead of learning them from refusals:

- concurrency: a concurrency 429 sets the bound of requests in flight to how many of ours the server
  was already holding, and the refused request goes again as soon as one of them finishes;
- RPM / TPM: each request reserves 1 request and its estimated tokens from what the last answer's
  headers said was left; when the window's budget is spent, requests wait for the next window
  instead of being sent to be refused. Token estimates come from the characters sent, calibrated by
  the `usage` of earlier answers.

What the reference does not say, and what this assumes: a window is a minute (`JINA_RATE_WINDOW`
overrides it, for servers with shorter windows such as a test emulator) that opens with the first
request after the previous one closed, so it closes at the latest a minute after the first request we
sent into it; `Retry-After`, when sent, says when it closes. Refused requests use no budget.

Nothing is required to configure. A known tier or limits can be stated with `JINA_RATE_LIMITS`
(`free`, `tier1`, `tier2`, or `rpm=500,tpm=1000000,concurrency=5`) or `JinaClient(rate_limits=...)`.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from haystack_integrations.common.jina.cancellation import wait_for_slot
from haystack_integrations.common.jina.endpoints import without_query
from haystack_integrations.common.jina.errors import JinaRateLimitError, retry_clock

REQUEST_LIMIT = "RATE_REQUEST_LIMIT_EXCEEDED"
TOKEN_LIMIT = "RATE_TOKEN_LIMIT_EXCEEDED"
CONCURRENCY_LIMIT = "RATE_CONCURRENCY_LIMIT_EXCEEDED"
WINDOW_SECONDS = 60.0
#: Tokens per character before any answer has calibrated it: about 4 characters a token, as for English.
INITIAL_TOKENS_PER_CHAR = 0.25
#: Tokens reserved per image or PDF input. The reference gives no per-image count; answers correct it.
IMAGE_TOKENS = 1000
#: Requests in flight before the key's concurrency limit is known: the lowest published (Free tier),
#: then one more, then doubling after each full round without a refusal (up to the highest published).
START_CONCURRENCY = 5
#: The longest this package waits on its own for a rate limit (a Retry-After, a window): longer waits are the
#: caller's to schedule, so they raise `JinaRateLimitError` at once instead of blocking a call for an hour.
MAX_RETRY_AFTER = 60.0
MAX_CONCURRENCY = 500
#: How many windows a learned concurrency bound holds before one more slot is tried.
PROBE_WINDOWS = 10
_USAGE = re.compile(rb'"total_tokens"\s*:\s*(\d+)')


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
    values = {key: None if spec[key] is None else int(spec[key]) for key in spec}
    if any(value is not None and value < 1 for value in values.values()):
        msg = f"Limits must be at least 1: {values}"
        raise ValueError(msg)
    return Limits(**values)


def env_limits() -> Limits | None:
    return parse_limits(os.environ.get("JINA_RATE_LIMITS") or None)


def env_window() -> float:
    return float(os.environ.get("JINA_RATE_WINDOW") or WINDOW_SECONDS)


@dataclass(eq=False)
class Ticket:
    """One request's claim on the limiter, from `acquire` to `release`."""

    sent_at: float
    window: int  # which of our windows it was sent in
    others: int  # our requests already in flight when it was sent
    tokens: int  # reserved (estimated) tokens
    chars: int
    images: int
    path: str


class Pacer(Protocol):
    def acquire(self, url: str, payload: Any) -> Ticket: ...

    def release(self, ticket: Ticket, response: requests.Response | None) -> None: ...

    def retry_delay(self, code: str | None, status: int | None) -> float | None: ...


@dataclass
class _Budget:
    """One per-minute budget (requests or tokens) as far as we know it."""

    limit: int | None = None  # stated, or learned from headers
    stated: bool = False
    left: float | None = None  # what is left of the current window; None: unknown, do not pace
    used: float = 0.0  # what our requests sent in the current window cost (estimates until answered)
    done: float = 0.0  # what those already answered cost
    unsure: float = 0.0  # of `left`: what may not be counted in it yet

    def new_window(self) -> None:
        self.left = None if self.limit is None else float(self.limit)
        self.used = self.done = self.unsure = 0.0

    def spend(self, cost: float) -> None:
        self.used += cost
        if self.left is not None:
            self.left -= cost

    def settle(self, reserved: float, actual: float) -> None:
        """A request was served and cost `actual`."""
        self.spend(actual - reserved)
        self.done += actual

    def observe(self, remaining: int, in_flight: float) -> None:
        """
        An answer's `X-RateLimit-Remaining-*`, when `in_flight` is what our unanswered requests cost.

        Each figure, less what we sent after it, is an upper bound of what is left (answers may arrive
        out of order): the lowest wins. Our requests in flight when it came may not be counted in it
        yet: `unsure` keeps their cost, for a lower bound.
        """
        if self.left is None or remaining < self.left or (remaining == self.left and in_flight < self.unsure):
            self.left, self.unsure = float(remaining), in_flight
            if not in_flight and not self.stated:  # all ours are counted in it: the window's whole budget
                self.limit = max(self.limit or 0, math.ceil(remaining + self.done))

    def blocks(self, cost: float, *, settled: bool) -> bool:
        """Whether `cost` may not fit; `settled`: none of our requests is in flight, so `left` is exact."""
        if self.left is None or self.left - (0 if settled else self.unsure) >= cost:
            return False
        return self.limit is None or cost <= self.limit  # a request larger than a whole window goes anyway


class RateLimiter:
    """
    The pacing of one key on one host (see the module docstring). Thread-safe; use `limiter_for`.

    :param host: `scheme://host[:port]`, for `repr` only.
    :param stated: Limits the user stated; anything not stated is learned.
    :param window: Seconds per rate-limit window.
    """

    def __init__(self, host: str, stated: Limits | None = None, *, window: float = WINDOW_SECONDS) -> None:
        self.host = host
        self.window = window
        self._guard = window / 200  # timers are not exact
        self._cond = threading.Condition()
        self.in_flight = 0
        self._tickets: set[Ticket] = set()  # in flight
        self.refused = 0
        self.concurrency: int | None = None
        self._concurrency_stated = False
        self._concurrency_learned_at = 0.0
        self._ramp, self._ramp_successes = START_CONCURRENCY, 0
        self._requests = _Budget()
        self._tokens = _Budget()
        # When the server's current window opened, at the latest: when our first answer of the window came
        # (before that: when our first request of it was sent)
        self._window_start: float | None = None
        self._window_confirmed = False
        self._window_id = 0
        self._paused_until = 0.0
        self._tokens_per_char: dict[str, float] = {}
        self._stated: Limits | None = None
        self.state(stated)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(host={self.host!r}, concurrency={self.concurrency}, rpm={self._requests.limit}, "
            f"tpm={self._tokens.limit}, in_flight={self.in_flight})"
        )

    def state(self, limits: Limits | None) -> None:
        """Take known limits (a stated tier): they replace what was learned. Stating the same again is a no-op."""
        if limits is None or limits == self._stated:
            return
        with self._cond:
            self._stated = limits
            if limits.concurrency is not None:
                self.concurrency, self._concurrency_stated = limits.concurrency, True
            for budget, limit in ((self._requests, limits.rpm), (self._tokens, limits.tpm)):
                if limit is not None:
                    budget.limit, budget.stated = limit, True
                    if budget.left is None:
                        budget.left = float(limit - budget.used)
            self._cond.notify_all()

    # ------------------------------------------------------------------ before a request
    def acquire(self, url: str, payload: Any) -> Ticket:
        """Wait until the request fits the limits, then reserve its share."""
        path = urlsplit(url).path
        chars, images = _size(payload)
        with self._cond:
            per_char = self._tokens_per_char.get(path, INITIAL_TOKENS_PER_CHAR)
            tokens = round(chars * per_char) + images * IMAGE_TOKENS
            while True:
                wait = self._wait_before_sending(time.monotonic(), tokens)
                if wait == 0:
                    break
                if wait is not None and wait > max(MAX_RETRY_AFTER, self.window) + self._guard:
                    raise _held_too_long(url, wait)
                wait_for_slot(self._cond, wait, f"a request to {url}")  # a cancelled call stops waiting
            now = time.monotonic()
            if self._window_start is None:
                self._window_start = now
            ticket = Ticket(now, self._window_id, self.in_flight, tokens, chars, images, path)
            self._tickets.add(ticket)
            self.in_flight += 1
            self._requests.spend(1)
            self._tokens.spend(tokens)
            return ticket

    def _wait_before_sending(self, now: float, tokens: int) -> float | None:
        """0 to send now, else seconds to wait (`None`: until a request finishes)."""
        if now < self._paused_until:
            return self._paused_until - now
        if self._window_start is not None and now >= self._window_start + self.window + self._guard:
            self._new_window()
        if self.concurrency is not None:
            if not self._concurrency_stated and now - self._concurrency_learned_at >= PROBE_WINDOWS * self.window:
                # now and then, try one more slot: the key's other users may have gone (one refusal if not)
                self.concurrency += 1
                self._concurrency_learned_at = now
            if self.in_flight >= self.concurrency:
                return None
        elif self.in_flight >= self._ramp:
            return None
        settled = not self.in_flight
        if self._requests.blocks(1, settled=settled) or self._tokens.blocks(tokens, settled=settled):
            if self.in_flight:
                return None  # their answers will tell what is really left
            # the window's budget is spent: wait for the next one rather than be refused
            start = self._window_start if self._window_start is not None else now
            self._paused_until = start + self.window + self._guard
            return self._paused_until - now
        return 0

    def _new_window(self) -> None:
        self._window_start = None
        self._window_confirmed = False
        self._window_id += 1
        self._requests.new_window()
        self._tokens.new_window()

    # ------------------------------------------------------------------ after an answer
    def release(self, ticket: Ticket, response: requests.Response | None) -> None:
        """Learn from the answer (`None`: none came) and free the request's slot."""
        with self._cond:
            self.in_flight -= 1
            self._tickets.discard(ticket)
            current = ticket.window == self._window_id
            if response is not None and response.status_code == 429:
                self._refused(ticket, response, current)
            elif response is not None and response.ok:
                self._ramp_up(ticket)
                actual = self._calibrate(ticket, response)
                if current:
                    self._requests.settle(1, 1)
                    self._tokens.settle(ticket.tokens, ticket.tokens if actual is None else actual)
            elif current:  # not served: the server counts only what it admits
                self._requests.spend(-1)
                self._tokens.spend(-ticket.tokens)
            if response is not None and current:
                if not self._window_confirmed:
                    self._window_start, self._window_confirmed = time.monotonic(), True
                self._observe_headers(response)
            self._cond.notify_all()

    def _ramp_up(self, ticket: Ticket) -> None:
        """While the concurrency limit is unknown, a full round of successes at the bound raises it."""
        if self.concurrency is not None or ticket.others + 1 < self._ramp:
            return
        self._ramp_successes += 1
        if self._ramp_successes >= self._ramp:
            grown = self._ramp + 1 if self._ramp == START_CONCURRENCY else 2 * self._ramp
            self._ramp, self._ramp_successes = min(MAX_CONCURRENCY, grown), 0

    def _calibrate(self, ticket: Ticket, response: requests.Response) -> int | None:
        """The tokens the answer reports in `usage`; they tune the estimate of later requests."""
        match = _USAGE.search(response.content or b"")
        if match is None:
            return None
        actual = int(match.group(1))
        if ticket.chars and not ticket.images:
            ratio = actual / ticket.chars
            previous = self._tokens_per_char.get(ticket.path)
            self._tokens_per_char[ticket.path] = ratio if previous is None else 0.7 * previous + 0.3 * ratio
        return actual

    def _observe_headers(self, response: requests.Response) -> None:
        mine = [t for t in self._tickets if t.window == self._window_id]
        in_flight = {"Requests": len(mine), "Tokens": sum(t.tokens for t in mine)}
        for budget, name in ((self._requests, "Requests"), (self._tokens, "Tokens")):
            value = response.headers.get(f"X-RateLimit-Remaining-{name}")
            if value is not None and value.strip().isdigit():
                budget.observe(int(value), in_flight[name])

    def _refused(self, ticket: Ticket, response: requests.Response, current: bool) -> None:
        self.refused += 1
        now = time.monotonic()
        code = error_code(response)
        retry_after = _retry_after_seconds(response)
        if current:
            self._requests.spend(-1)
            self._tokens.spend(-ticket.tokens)
        if code == CONCURRENCY_LIMIT:
            # The server holds at most the requests of ours still in flight (a refusal is immediate, they
            # take a while): the bound becomes that. Counting at send time could undercount, as requests
            # sent together reach the server in any order.
            held = self.in_flight
            self.concurrency = max(1, min(self.concurrency or held, held))
            self._concurrency_stated = False
            self._concurrency_learned_at = now
            if held == 0:  # the key's slots are taken by someone else: no finish of ours will free one
                pause = retry_after if retry_after is not None else random.uniform(0.5, 1.0)
                self._paused_until = max(self._paused_until, now + pause)
        elif code in (REQUEST_LIMIT, TOKEN_LIMIT):
            spent = self._requests if code == REQUEST_LIMIT else self._tokens
            spent.left, spent.unsure = 0.0, 0.0
            if retry_after is not None:
                # the window closes in `retry_after` seconds: align ours on it
                self._window_start = now + retry_after - self.window - self._guard
                self._window_confirmed = True
            elif self._window_start is None or self._window_start + self.window + self._guard <= now:
                # our idea of the window is wrong (someone else opened it): look again a little later
                self._window_start = now + self.window / 20 - self.window - self._guard
            self._paused_until = self._window_start + self.window + self._guard
        elif retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)

    def retry_delay(self, code: str | None, status: int | None) -> float | None:
        """Seconds to sleep before retrying a failed request; `None`: the client's own backoff."""
        if status == 429 and code in (CONCURRENCY_LIMIT, REQUEST_LIMIT, TOKEN_LIMIT):
            return 0.0  # `acquire` waits exactly as long as needed
        return None


class LegacyPolicy:
    """
    The policy the pacing replaced, kept to measure against (`benchmarks/bench_rate_limits.py`): halve the
    requests in flight on any 429, add one back per `limit` successes, and leave retries to the client's
    exponential backoff.
    """

    def __init__(self, host: str, stated: Limits | None = None, *, window: float = WINDOW_SECONDS) -> None:
        self.host = host
        self.limit: int | None = None  # unbounded until the first 429 (the client's own cap applies)
        self.in_flight = 0
        self._peak = 0  # most requests in flight so far: the client's own cap, which the old policy halved
        self._successes = 0
        self._cond = threading.Condition()

    def state(self, limits: Limits | None) -> None:
        pass

    def acquire(self, url: str, payload: Any) -> Ticket:
        with self._cond:
            while self.limit is not None and self.in_flight >= self.limit:
                wait_for_slot(self._cond, None, f"a request to {url}")
            self.in_flight += 1
            self._peak = max(self._peak, self.in_flight)
            return Ticket(time.monotonic(), 0, self.in_flight - 1, 0, 0, 0, "")

    def release(self, ticket: Ticket, response: requests.Response | None) -> None:
        with self._cond:
            self.in_flight -= 1
            if response is not None and response.status_code == 429:
                self.limit = max(1, (self.limit or self._peak) // 2)
                self._successes = 0
            elif response is not None and response.ok and self.limit is not None:
                self._successes += 1
                if self._successes >= self.limit:
                    self.limit += 1
                    self._successes = 0
            self._cond.notify_all()

    def retry_delay(self, code: str | None, status: int | None) -> float | None:
        return None


# ---------------------------------------------------------------------- one limiter per key and host
@dataclass
class _Registry:
    limiters: dict[tuple[bytes, str], Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    policy: type[RateLimiter] | type[LegacyPolicy] = RateLimiter


_registry = _Registry()


def _held_too_long(url: str, wait: float) -> JinaRateLimitError:
    """The key is rate limited for longer than we wait (a long Retry-After was learned): say until when."""
    endpoint = without_query(url)
    message = (
        f"Jina API rate limit: this key was asked to wait {wait:.0f} s (Retry-After), more than the "
        f"{MAX_RETRY_AFTER:.0f} s this client waits, so no request was sent to {endpoint}. "
        f"Retry after {retry_clock(wait)}."
    )
    error = JinaRateLimitError(message, status_code=429, endpoint=endpoint)
    error.retry_after = wait
    return error


def forget_all() -> None:
    """Drop every limiter: what was learned starts afresh (a forked child does this on its own)."""
    _registry.limiters = {}
    _registry.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    # a child process has its own connections and its own share of the limits; it must also not
    # inherit a lock that some parent thread held at the fork
    os.register_at_fork(after_in_child=forget_all)


def limiter_for(auth: str, url: str, stated: Limits | None = None) -> Pacer:
    """
    The limiter shared by every client in this process that sends `auth` (the key) to `url`'s host.

    The registry holds a hash of the key, never the key.
    """
    parts = urlsplit(url)
    host = f"{parts.scheme}://{parts.netloc}"
    key = (hashlib.sha256(auth.encode()).digest(), host)
    registry = _registry
    limiter = registry.limiters.get(key)
    if limiter is None:
        with registry.lock:
            limiter = registry.limiters.get(key)
            if limiter is None:
                limiter = registry.policy(host, env_limits(), window=env_window())
                registry.limiters[key] = limiter
    if stated is not None:
        limiter.state(stated)
    return limiter


@contextmanager
def use_policy(policy: type[RateLimiter] | type[LegacyPolicy]) -> Iterator[None]:
    """Build new limiters with `policy` (for benchmarks); limiters made before are kept as they are."""
    previous = _registry.policy
    _registry.policy = policy
    try:
        yield
    finally:
        _registry.policy = previous


def error_code(response: requests.Response) -> str | None:
    """The `code` of an error body (`{"detail", "code", "request_id"}`), if there is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: left to the client's own handling


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
    count = 0
    for item in items if isinstance(items, list) else ():
        count += 1
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
        chars += len(query) * max(1, count)
    return chars, images
