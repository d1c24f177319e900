"""The names other modules, the emulator, tests and benchmarks import from the pacer, in one place.

The pacer lives in `pacing/`: `limits.py` (tiers, parsing, the environment), `signals.py` (what an answer
says, parsed once), `policy.py` (the decisions, pure, composed of `concurrency.py`, `windows.py`, `budget.py`,
`refusals.py` and `timing.py`) and `pacer.py` (the waiting, one limiter per key and host).
"""

from __future__ import annotations

from haystack_integrations.common.jina.pacing.limits import (
    IMAGE_TOKENS,
    INITIAL_TOKENS_PER_CHAR,
    MAX_CONCURRENCY,
    MAX_RETRY_AFTER,
    START_CONCURRENCY,
    TIERS,
    WINDOW_SECONDS,
    Limits,
    env_limits,
    env_window,
    parse_limits,
)
from haystack_integrations.common.jina.pacing.pacer import (
    MAX_IDLE_LIMITERS,
    RateLimiter,
    forget_all,
    limiter_for,
)
from haystack_integrations.common.jina.pacing.policy import Ticket
from haystack_integrations.common.jina.pacing.signals import (
    CONCURRENCY_LIMIT,
    REQUEST_LIMIT,
    TOKEN_LIMIT,
    count,
    retry_after_seconds,
)

__all__ = [
    "CONCURRENCY_LIMIT",
    "IMAGE_TOKENS",
    "INITIAL_TOKENS_PER_CHAR",
    "MAX_CONCURRENCY",
    "MAX_IDLE_LIMITERS",
    "MAX_RETRY_AFTER",
    "REQUEST_LIMIT",
    "START_CONCURRENCY",
    "TIERS",
    "TOKEN_LIMIT",
    "WINDOW_SECONDS",
    "Limits",
    "RateLimiter",
    "Ticket",
    "count",
    "env_limits",
    "env_window",
    "forget_all",
    "limiter_for",
    "parse_limits",
    "retry_after_seconds",
]


def __getattr__(name: str) -> object:
    # the registry is rebound by `forget_all`: read it where it lives
    if name == "_limiters":
        from haystack_integrations.common.jina.pacing import pacer

        return pacer._limiters
    raise AttributeError(name)
