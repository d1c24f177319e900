"""Rate limits as Jina publishes them, enforced by the emulator per API key.

Jina's OpenAPI `info.description` gives per-tier limits of requests per minute (RPM), tokens per
minute (TPM) and concurrent requests, a 429 with a `RATE_*` code naming the limit that was hit, and
`X-RateLimit-Remaining-Requests` / `X-RateLimit-Remaining-Tokens` on answers. What the reference does
not say, and what the emulator assumes:

- The minute is a fixed window that opens with the first request after the previous window closed
  (a counter that expires a minute after it was created). `window` shortens it for tests and
  benchmarks; anything measured that way must say so. `clock="fixed"` puts the windows on a fixed
  clock instead (every `window` seconds from an arbitrary start, whoever sends), the other placement
  the reference leaves open.
- A request is counted when it is admitted, with the tokens its answer reports in `usage` (counted
  exactly as the embeddings and rerank routes count them). A request that would take the window over
  its RPM or TPM is refused whole. Refused requests and error answers (4xx) use no budget.
- A concurrency refusal carries no `Retry-After` (nothing but one of the key's own requests
  finishing frees a slot); an RPM or TPM refusal carries the whole seconds until the window closes,
  unless `retry_after` is off.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from haystack_integrations.common.jina.ratelimit import CONCURRENCY_LIMIT, REQUEST_LIMIT, TIERS, TOKEN_LIMIT, Limits

WINDOW_SECONDS = 60.0


@dataclass
class Window:
    """What one key used in one window; kept for tests and benchmarks."""

    start: float
    requests: int = 0
    tokens: int = 0
    refused: dict[str, int] = field(default_factory=dict)


@dataclass
class Refusal:
    code: str
    detail: str
    retry_after: int | None


@dataclass
class _KeyState:
    in_flight: int = 0
    windows: list[Window] = field(default_factory=list)


class RateLimiter:
    """
    Admits or refuses requests per key, and says what is left of the current window.

    :param limits: What to enforce. `None` enforces nothing but still reports a budget in the headers:
        Tier 2's, the highest published, so clients that pace by the headers (ours do) are not slowed
        by limits nobody enforces until they send 5,000 requests or 100M tokens in a window.
    :param window: Seconds per window (a minute, as published).
    :param retry_after: Send `Retry-After` with RPM and TPM refusals.
    :param clock: `"first-request"` (a window opens with the first request after the last one closed) or
        `"fixed"` (windows follow each other on a clock that started before the first request).
    """

    def __init__(
        self,
        limits: Limits | None,
        *,
        window: float = WINDOW_SECONDS,
        retry_after: bool = True,
        clock: str = "first-request",
    ) -> None:
        if window <= 0:
            msg = f"window must be positive, got {window}"
            raise ValueError(msg)
        if clock not in ("first-request", "fixed"):
            msg = f"clock must be 'first-request' or 'fixed', got {clock!r}"
            raise ValueError(msg)
        self.clock = clock
        self._epoch = time.monotonic() - 0.37 * window  # a fixed clock's windows started before anyone sent
        self.limits = limits
        self.window = window
        self.retry_after = retry_after
        self._keys: dict[str, _KeyState] = {}
        self._lock = threading.Lock()

    @property
    def reported(self) -> Limits:
        return self.limits or TIERS["tier2"]

    def windows(self, key: str | None = None) -> list[Window]:
        """The windows of `key` (default: the only or first key seen), oldest first."""
        with self._lock:
            if key is None:
                key = next(iter(self._keys), "")
            state = self._keys.get(key)
            return list(state.windows) if state else []

    def refused(self) -> dict[str, int]:
        """Refusals per code, over all keys and windows."""
        totals: dict[str, int] = {}
        with self._lock:
            for state in self._keys.values():
                for window in state.windows:
                    for code, count in window.refused.items():
                        totals[code] = totals.get(code, 0) + count
        return totals

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()

    def _current(self, state: _KeyState, now: float) -> Window:
        """The open window, or a new one if the last has closed."""
        if not state.windows or now >= state.windows[-1].start + self.window:
            start = now
            if self.clock == "fixed":
                start = self._epoch + math.floor((now - self._epoch) / self.window) * self.window
            state.windows.append(Window(start=start))
        return state.windows[-1]

    def admit(self, key: str, tokens: int) -> Refusal | None:
        """Count a request of `tokens` and hold a concurrency slot, or say why it is refused."""
        now = time.monotonic()
        limits = self.limits or Limits()
        with self._lock:
            state = self._keys.setdefault(key, _KeyState())
            window = self._current(state, now)
            refusal = None
            if limits.concurrency is not None and state.in_flight >= limits.concurrency:
                # the wording of the reference's error table: "{current}/N concurrent requests"
                detail = f"Concurrency limit exceeded: {state.in_flight + 1}/{limits.concurrency} concurrent requests"
                refusal = Refusal(CONCURRENCY_LIMIT, detail, None)
            elif limits.rpm is not None and window.requests + 1 > limits.rpm:
                detail = f"Request limit of {limits.rpm} requests per minute exceeded."
                refusal = Refusal(REQUEST_LIMIT, detail, self._seconds_left(window, now))
            elif limits.tpm is not None and window.tokens + tokens > limits.tpm:
                detail = f"Token limit of {limits.tpm} tokens per minute exceeded (this request: {tokens} tokens)."
                refusal = Refusal(TOKEN_LIMIT, detail, self._seconds_left(window, now))
            if refusal is not None:
                window.refused[refusal.code] = window.refused.get(refusal.code, 0) + 1
                return refusal
            window.requests += 1
            window.tokens += tokens
            state.in_flight += 1
            return None

    def _seconds_left(self, window: Window, now: float) -> int | None:
        if not self.retry_after:
            return None
        return max(1, math.ceil(window.start + self.window - now))  # HTTP delta-seconds are whole seconds

    def finish(self, key: str) -> None:
        """An admitted request has been answered: its concurrency slot is free."""
        with self._lock:
            state = self._keys.get(key)
            if state is not None:  # None: `reset` forgot the key while this request was being answered
                state.in_flight = max(0, state.in_flight - 1)

    def headers(self, key: str) -> dict[str, str]:
        """`X-RateLimit-Remaining-*`: what is left of the key's current window."""
        now = time.monotonic()
        reported = self.reported
        used_requests = used_tokens = 0
        with self._lock:
            state = self._keys.get(key)
            if state and state.windows and now < state.windows[-1].start + self.window:
                used_requests, used_tokens = state.windows[-1].requests, state.windows[-1].tokens
        headers = {}
        if reported.rpm is not None:
            headers["X-RateLimit-Remaining-Requests"] = str(max(0, reported.rpm - used_requests))
        if reported.tpm is not None:
            headers["X-RateLimit-Remaining-Tokens"] = str(max(0, reported.tpm - used_tokens))
        return headers


def reply_tokens(body: Any) -> int:
    """The tokens an answer reports in `usage` (what the window is charged)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0
