"""
Checks every answer parser shares: the `data` list, item indices, numbers, usage, the malformed-answer error.

They take decoded JSON and raise `JinaMalformedResponseError`; they know no endpoint and do no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

from haystack_integrations.common.jina.errors import JinaMalformedResponseError

#: Larger numbers in an answer are not counts or scores (and `float()` of a 400-digit int raises).
MAX_NUMBER = 2**63


def is_finite_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number usable as a float: not a bool, not NaN or infinite, not a huge integer."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -MAX_NUMBER < value < MAX_NUMBER if isinstance(value, int) else math.isfinite(value)


def clean_usage(usage: Any) -> dict[str, int]:
    """The finite numeric usage counts as ints; anything else (text, NaN, huge or nested values) is ignored."""
    if not isinstance(usage, dict):
        return {}
    return {str(key): int(value) for key, value in usage.items() if is_finite_number(value)}


def add_usage(total: dict[str, int], usage: dict[str, int]) -> None:
    for key, value in usage.items():
        total[key] = total.get(key, 0) + value


def no_data_problem(body: Any, field_name: str) -> str:
    """Why an answer has no usable `field_name` list, quoting the server's `detail` when it sent one."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if detail:
        text = detail if isinstance(detail, str) else repr(detail)
        return f"no '{field_name}' list; the server says: {text[:500]}"
    return f"no '{field_name}' list"


def malformed_answer(what: str, endpoint: str, body: Any) -> Callable[[str], JinaMalformedResponseError]:
    """The errors of one malformed answer: `Malformed {what} response from {endpoint}: ...`, with its `detail`."""
    detail = body.get("detail") if isinstance(body, dict) and isinstance(body.get("detail"), str) else None

    def malformed(problem: str) -> JinaMalformedResponseError:
        message = f"Malformed {what} response from {endpoint}: {problem}"
        return JinaMalformedResponseError(message, endpoint=endpoint, detail=detail)

    return malformed


def answer_data(
    body: Any, expected: int, noun: str, malformed: Callable[[str], JinaMalformedResponseError]
) -> list[Any]:
    """The answer's `data` list, checked to hold one item per input (`noun` names the items in the error)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise malformed(no_data_problem(body, "data"))
    if len(data) != expected:
        raise malformed(f"{len(data)} {noun} for {expected} inputs")
    return data


def data_index(
    index: Any, found: Sequence[object | None], malformed: Callable[[str], JinaMalformedResponseError]
) -> int:
    """An item's `index`, checked to be a position of `found` (0..n-1) that no earlier item took."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(found):
        raise malformed(f"index {index!r} is not in 0..{len(found) - 1}")
    if found[index] is not None:
        raise malformed(f"index {index} appears twice")
    return index
