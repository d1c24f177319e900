"""Pacing requests to Jina's rate limits on the request loop: one `RateLimiter` per key and host in the process.

The decisions are `policy.Policy`'s (read its docstring, and its parts', for the rules); this module only waits.
A limiter lives on the request loop (`engine.py`), so it needs no lock: `acquire` asks the policy whether a request
may go, and waits (`WaitQueue`), in order of arrival, until the time it names or until an answer comes; `release`
hands the answer's `Signals` to the policy. Nothing the server sends can stop the key: every figure is parsed
defensively (`signals.py`), a bug in learning costs no slot, and no pause lasts over `MAX_RETRY_AFTER` (60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from haystack import logging

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.errors import JinaError, JinaRateLimitError, retry_clock
from haystack_integrations.common.jina.pacing import limits
from haystack_integrations.common.jina.pacing.host_share import REFRESH, HostShare, sharing_directory
from haystack_integrations.common.jina.pacing.limits import Limits, env_limits, env_window
from haystack_integrations.common.jina.pacing.policy import Policy, Ticket
from haystack_integrations.common.jina.pacing.signals import REFUSALS, Signals

logger = logging.getLogger(__name__)

#: Limiters kept for keys with nothing in flight (least recently used ones are dropped beyond this).
MAX_IDLE_LIMITERS = 64


class RateLimiter:
    """
    The pacing of one key on one host: the policy's decisions, waited for on the request loop.

    :param host: `scheme://host[:port]`, for `repr` and messages only.
    :param stated: Limits the user stated (the key's total); anything not stated is learned.
    :param window: Seconds per rate-limit window.
    """

    def __init__(
        self,
        host: str,
        stated: Limits | None = None,
        *,
        window: float = limits.WINDOW_SECONDS,
        host_share: HostShare | None = None,
    ) -> None:
        self.host = host
        self.policy = Policy(stated, window=window)
        self.host_share = host_share  # same-host sharing of the key (opt-in), else `None`
        self._beat: asyncio.TimerHandle | None = None  # while busy and sharing: the next refresh of our part
        self._waiters = WaitQueue()
        self._warned_closed = 0.0

    def __repr__(self) -> str:
        policy = self.policy
        return (
            f"RateLimiter(host={self.host!r}, concurrency={policy.concurrency}, rpm={policy.requests.limit}, "
            f"tpm={policy.tokens.limit}, in_flight={policy.in_flight})"
        )

    # what tests and the client read of the policy
    @property
    def in_flight(self) -> int:
        return self.policy.in_flight

    @property
    def concurrency(self) -> int | None:
        return self.policy.concurrency

    @property
    def learned(self) -> int | None:
        return self.policy.learned

    @property
    def refused(self) -> int:
        return self.policy.refused

    @property
    def window(self) -> float:
        return self.policy.window

    @property
    def _paused_until(self) -> float:
        return self.policy.paused_until

    @property
    def _tickets(self) -> set[Ticket]:
        return self.policy.tickets

    def bound(self, cap: int | None) -> int:
        return self.policy.bound(cap)

    def state(self, stated: Limits | None) -> None:
        if self.policy.state(stated):
            self._waiters.wake()

    # ------------------------------------------------------------------ before a request
    async def acquire(
        self, url: str, payload: Any, cap: int | None = None, size: tuple[int, int] | None = None
    ) -> Ticket:
        """
        Wait until a request fits the limits, then reserve its share.

        :param cap: The sending component's stated `max_concurrency`, if any (see `Policy.bound`).
        :param size: Characters and images of the body, when `payload` is not the body itself.
        :raises JinaRateLimitError: While the key is closed by a `Retry-After` over the cap (see the policy).
        """
        path = urlsplit(url).path
        chars, images = size if size is not None else _size(payload)
        loop = asyncio.get_running_loop()
        queued = False
        while True:
            now = loop.time()
            try:
                self._refuse_if_closed(now)
            except JinaRateLimitError:
                # a woken call that fails here passes its wake-up on: the next in line fails at once too, rather
                # than wait for a wake-up that no answer will bring (none may be on the wire)
                self._waiters.wake()
                raise
            if self.host_share is not None and not self.host_share.failed and self._beat is None:
                self._share_host()  # busy from now: our part, refreshed every `REFRESH` s until idle
            # estimated anew after each wait: answers that came meanwhile calibrate it
            tokens = self.policy.estimate(chars, images, path)
            decision = self.policy.decide(now, tokens, cap)
            if decision.send:
                break
            wait = None if decision.until is None else min(max(decision.until - now, 0.0), limits.MAX_RETRY_AFTER)
            await self._waiters.wait(wait, again=queued)
            queued = True
        ticket = self.policy.sent(loop.time(), tokens, chars, images, path)
        self._waiters.wake()  # the next in line may fit too
        return ticket

    def _refuse_if_closed(self, now: float) -> None:
        """A `Retry-After` over the cap closed the key: fail now, saying when to retry, rather than stall."""
        closed_by = self.policy.closed_by
        if closed_by is None or now >= self.policy.closed_until:
            return
        received = self.policy.closed_until - limits.MAX_RETRY_AFTER
        wait = (closed_by.retry_after or 0.0) - (now - received)  # what is left of it
        clock = retry_clock(wait)
        if self._warned_closed != self.policy.closed_until:
            self._warned_closed = self.policy.closed_until
            logger.warning(
                "Jina API asked this key to wait {wait:.0f} s before retrying (Retry-After), longer than the "
                "{cap:.0f} s this client waits: calls on it to {host} fail at once for up to {cap:.0f} s.",
                wait=wait,
                cap=limits.MAX_RETRY_AFTER,
                host=self.host,
            )
        message = (
            f"Jina API asked this key to wait {wait:.0f} s before retrying (Retry-After on an earlier answer from "
            f"{self.host}), longer than the {limits.MAX_RETRY_AFTER:.0f} s this client waits; not sent."
        )
        if clock:
            message += f" Retry after {clock}."
        error = JinaRateLimitError(message, status_code=429, code=closed_by.code, endpoint=self.host)
        error.retry_after = wait
        raise error

    # ------------------------------------------------------------------ after an answer
    def release(self, ticket: Ticket, answer: Signals | None) -> None:
        """Learn from what the answer said (`None`: no answer came) and free the request's slot. Never raises."""
        try:
            self.policy.answered(asyncio.get_running_loop().time(), ticket, answer)
        except Exception as error:  # a bug must not cost the key a slot
            logger.debug("Rate limiter could not read an answer: {error}", error=repr(error)[:200])
            if ticket in self.policy.tickets:
                self.policy.tickets.discard(ticket)
                self.policy.in_flight -= 1
        if self.host_share is not None and not self.policy.in_flight and not self._waiters:
            self.host_share.sync(busy=False)  # done: the others on this host take its part
            if self._beat is not None:
                self._beat.cancel()
                self._beat = None
        self._waiters.wake()

    def _share_host(self) -> None:
        """
        Same-host sharing: say we are busy and read our part, then again every `REFRESH` seconds while busy (a
        heartbeat: a process with nothing but long requests in flight still counts), waking the calls that wait
        (a part that grew is used at once). Never raises.
        """
        self._beat = None
        if self.host_share is None:
            return
        loop = asyncio.get_running_loop()
        self.policy.split(loop.time(), self.host_share.sync(busy=True))
        self._waiters.wake()
        if not self.host_share.failed:  # else: as without sharing from now on (`split(None)` just did that)
            self._beat = loop.call_later(REFRESH, self._share_host)

    def retry_delay(self, code: str | None, status: int | None) -> float | None:
        """Seconds to sleep before retrying a failed request; `None`: the client's own backoff."""
        if status == 429 and code in REFUSALS:
            return 0.0  # `acquire` waits exactly as long as needed
        return None

    def free_retry(self, error: JinaError, since: float | None) -> float | None:
        """
        For a call's failed attempt: when its run of refusals began, if it may retry without spending an
        attempt (a 429 for concurrency, RPM or TPM while the key makes progress); `None` otherwise.

        :raises JinaRateLimitError: `error`, reworded, when the key made no progress for too long: it names the
            limit, for how long, and that other processes seem to share the key.
        """
        limit = REFUSALS.get(error.code or "")
        if error.status_code != 429 or limit is None:
            return None
        now = asyncio.get_running_loop().time()
        since = now if since is None else since
        reason = self.policy.refusal_verdict(now, since)
        if reason is None:
            return since
        error.args = (
            f"{error.args[0]} (gave up: refused for the key's {limit} limit; {reason}. Other processes seem to "
            "share the key: give each a smaller max_concurrency, or use a higher tier)",
        )
        raise error


class WaitQueue:
    """The calls waiting for a key, in order of arrival; woken one at a time (each wakes the next when it goes)."""

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __bool__(self) -> bool:
        return bool(self._waiters)

    async def wait(self, seconds: float | None, *, again: bool) -> None:
        """
        Wait to be woken, or `seconds` (`None`: until woken). `again`: this call was woken but is still blocked,
        so it goes back to the front (order of arrival).
        """
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        if again:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        # a timer resolves the waiter, not `asyncio.wait_for`: before Python 3.12 that swallows a cancellation
        # arriving as the waiter is woken, and the cancelled call would go on to send (seen: a batch of a
        # job that had already failed fast sent 29 s later, when the key's pause ended)
        timer = None if seconds is None else loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        except BaseException:
            self._discard(waiter)
            self.wake()  # pass on a wake-up this waiter may have taken
            raise
        finally:
            if timer is not None:
                timer.cancel()
        self._discard(waiter)

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # woken and removed already
            self._waiters.remove(waiter)

    def wake(self) -> None:
        """Wake the first waiter; it wakes the next when it goes (one at a time keeps the order)."""
        while self._waiters:
            waiter = self._waiters[0]
            if not waiter.done():
                waiter.set_result(None)
                return
            self._waiters.popleft()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


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
        directory = sharing_directory()
        sharing = None if directory is None else HostShare(directory, key[0] + host.encode())
        limiter = _limiters[key] = RateLimiter(host, env_limits(), window=env_window(), host_share=sharing)
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
