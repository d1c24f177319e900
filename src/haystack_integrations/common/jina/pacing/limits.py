"""A key's rate limits: Jina's published tiers, how a user states them, and the constants the pacer lives by.

Sources: OpenAPI `info.description` of both reference files (per tier: requests per minute, tokens per minute,
concurrent requests). A stated limit is the key's TOTAL, shared by every process that uses the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from haystack_integrations.common.jina.pacing.signals import finite

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
#: How long a call keeps retrying rate-limit refusals for free while nothing of the key succeeds in this process
#: (two windows: a key shared with other processes makes progress at least once a window when it is not
#: starved); the call fails at its first refusal past it, naming the limit (an RPM or TPM refusal is retried once a
#: window, so within three windows).
NO_PROGRESS_SECONDS = 2 * WINDOW_SECONDS
#: However much the key progresses, a call stops retrying refusals for free after this long (a bound on its time).
MAX_REFUSED_SECONDS = 10 * WINDOW_SECONDS


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
