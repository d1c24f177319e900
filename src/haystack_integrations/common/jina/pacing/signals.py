"""What one answer says about its key's rate limits, parsed once, defensively, and handed to the pacer.

This is the seam between the HTTP layer and the pacer: the client reads an answer's status, headers and
body once and turns them into `Signals`; the pacer decides from `Signals` (and the time) alone, never from
bytes. Every figure comes from the network, so anything odd is dropped (`None`) and logged at debug.

Sources (OpenAPI `info.description` of both reference files): a 429 names the limit it enforces with
`RATE_REQUEST_LIMIT_EXCEEDED`, `RATE_TOKEN_LIMIT_EXCEEDED` or `RATE_CONCURRENCY_LIMIT_EXCEEDED`, the last
with the detail "Concurrency limit exceeded: {current}/{limit} concurrent requests"; answers carry
`X-RateLimit-Remaining-Requests` / `X-RateLimit-Remaining-Tokens`; `usage.total_tokens` is what a served
request cost. `Retry-After` is standard HTTP (seconds or an HTTP date); the reference does not promise it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from haystack import logging

logger = logging.getLogger(__name__)

REQUEST_LIMIT = "RATE_REQUEST_LIMIT_EXCEEDED"
TOKEN_LIMIT = "RATE_TOKEN_LIMIT_EXCEEDED"
CONCURRENCY_LIMIT = "RATE_CONCURRENCY_LIMIT_EXCEEDED"
#: Which limit a 429 names, by its code.
REFUSALS = {CONCURRENCY_LIMIT: "concurrency", REQUEST_LIMIT: "requests", TOKEN_LIMIT: "tokens"}
#: The highest published concurrency (Tier 2): a "{current}/N" above it is not believed.
MAX_STATED_CONCURRENCY = 500
_MAX_DIGITS = 15  # larger figures are not rate-limit counts (and int() of 4,300+ digits raises)
_SCANNED = 65536  # only an error body this small is scanned for its code (no JSON parse: it may nest deep)
_USAGE = re.compile(rb'"total_tokens"\s*:\s*(\d{1,15})(?!\d)')
_CODE = re.compile(rb'"code"\s*:\s*"([A-Z_]{1,64})"')
_CONCURRENCY_DETAIL = re.compile(rb"(\d{1,6})\s*/\s*(\d{1,6})\s+concurrent")


@dataclass(frozen=True)
class Signals:
    """
    What one answer says about the key. `None` everywhere means "not said" (or said unreadably).

    :param status: The HTTP status.
    :param code: The error body's `code` (e.g. `RATE_TOKEN_LIMIT_EXCEEDED`); `None` on a 2xx.
    :param retry_after: `Retry-After` in seconds from when the answer was read, at least 0, not capped.
    :param remaining_requests: `X-RateLimit-Remaining-Requests`: the key's, not this process's.
    :param remaining_tokens: `X-RateLimit-Remaining-Tokens`: the key's, not this process's.
    :param concurrency_limit: N of "{current}/N concurrent requests" in a concurrency refusal.
    :param tokens_used: `usage.total_tokens` of a served answer.
    :param concurrency_current: {current} of "{current}/N concurrent requests": the key's requests in flight
        at the server, of every process, counting the refused one.
    :param retry_after_unreadable: A `Retry-After` came but said nothing usable (not a finite number of seconds,
        not an HTTP date): the server meant to say when, and the pacer should not wait a whole window on a guess.
    """

    status: int
    code: str | None = None
    retry_after: float | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    concurrency_limit: int | None = None
    tokens_used: int | None = None
    concurrency_current: int | None = None
    retry_after_unreadable: bool = False

    @property
    def served(self) -> bool:
        return 200 <= self.status < 300

    @property
    def refusal(self) -> str | None:
        """`"concurrency"`, `"requests"` or `"tokens"` for a 429 naming that limit, else `None`."""
        return REFUSALS.get(self.code or "") if self.status == 429 else None


def read_signals(status: int, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> Signals:
    """
    Parse one answer's signals. Never raises.

    :param now: The wall-clock time (`time.time()`) an HTTP-date `Retry-After` is measured from.
    """
    served = 200 <= status < 300
    code = None if served else error_code(body)
    current, limit = concurrency_figures(body) if code == CONCURRENCY_LIMIT else (None, None)
    raw_retry_after = headers.get("Retry-After")
    retry_after = retry_after_seconds(raw_retry_after, now=now)
    return Signals(
        status=status,
        code=code,
        retry_after=retry_after,
        remaining_requests=count(headers.get("X-RateLimit-Remaining-Requests")),
        remaining_tokens=count(headers.get("X-RateLimit-Remaining-Tokens")),
        concurrency_limit=limit,
        tokens_used=usage_tokens(body) if served else None,
        concurrency_current=current,
        retry_after_unreadable=retry_after is None and bool(raw_retry_after and raw_retry_after.strip()),
    )


def count(raw: str | None) -> int | None:
    """A header's count: ASCII digits only, at most 15 of them; anything else is `None` (logged at debug)."""
    if raw is None:
        return None
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
        return int(text)
    logger.debug("Ignored a rate-limit figure that is not a count: {value!r}", value=raw[:40])
    return None


def finite(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def retry_after_seconds(raw: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from `now`: a number of seconds or an HTTP date; `None` when absent or unreadable."""
    if not raw:
        return None
    text = raw.strip()[:100]
    seconds = finite(text) if text.isascii() else None
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        logger.debug("Ignored an unreadable Retry-After: {value!r}", value=text[:40])
        return None
    seconds = when - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def error_code(body: bytes) -> str | None:
    """The `code` of an error body (`{"detail", "code", "request_id"}`), if there is one."""
    if not body or len(body) > _SCANNED:
        return None
    match = _CODE.search(body)
    return match.group(1).decode() if match else None


def stated_concurrency(body: bytes) -> int | None:
    """N of the reference's "Concurrency limit exceeded: {current}/N concurrent requests", if it is sane."""
    return concurrency_figures(body)[1]


def concurrency_figures(body: bytes) -> tuple[int | None, int | None]:
    """{current} and N of "Concurrency limit exceeded: {current}/N concurrent requests", each if it is sane."""
    match = _CONCURRENCY_DETAIL.search((body or b"")[:_SCANNED])
    if match is None:
        return None, None
    current, limit = int(match.group(1)), int(match.group(2))
    sane = 1 <= limit <= MAX_STATED_CONCURRENCY
    return (current if sane and current > 0 else None), (limit if sane else None)


def usage_tokens(body: bytes) -> int | None:
    """`usage.total_tokens` of a served answer (the first `total_tokens` in the body), if it is a sane count."""
    match = _USAGE.search(body or b"")
    return int(match.group(1)) if match else None
