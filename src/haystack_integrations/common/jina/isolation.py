"""One bad input must not fail its whole batch: a request the server rejects because of one input is split.

The batch engine (`batches.run_job`: the embedders, the image embedder, the classifier) sends every
batch through `send_isolating`. When the API refuses a request because of one of its inputs, the rest of
the batch is sent again without it, and only the document at fault reports the server's error.

What counts as "because of one input" (Jina's OpenAPI): a 400 `INPUT_TOKEN_LIMIT_EXCEEDED` ("Input text
exceeds the model's maximum of {max_tokens} tokens"; it does not say which input), or a 400 / 422 whose
detail names an input as `input[k]` or `input.k` (a 422's `errors[].field`). Other rejections (a bad model,
field or option) are about the request as a whole: they fail the batch at once, without more requests.

Finding the input: if the detail names `input[k]`, that input is sent alone and the others together (two
more requests). Otherwise the batch is halved: a half that goes through proves the input at fault is in
the other half, which is halved again without being sent whole; so one bad input costs about log2(batch)
more requests. A request's units (late-chunking groups) are never split: a group fails or succeeds whole.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from haystack_integrations.common.jina.errors import JinaError

R = TypeVar("R")

#: Jina's code for an input longer than the model's context (2026.06.29 spec, `BadRequest`).
TOKEN_LIMIT_CODE = "INPUT_TOKEN_LIMIT_EXCEEDED"
_NAMED_INPUT = re.compile(r"\binput(?:\[(\d{1,6})\]|\.(\d{1,6})\b)")


@dataclass
class Piece(Generic[R]):
    """Positions that went out in one request, with its result or the error that failed them."""

    positions: list[int]
    outcome: R | JinaError


def is_input_rejection(error: JinaError) -> bool:
    """Whether the API refused the request because of one of its inputs (see the module's docstring)."""
    if error.status_code not in (400, 422):
        return False
    return error.code == TOKEN_LIMIT_CODE or _NAMED_INPUT.search(error.detail or "") is not None


def named_input(error: JinaError) -> int | None:
    """The index into the request's `input` list that the error's detail names, if it names one."""
    match = _NAMED_INPUT.search(error.detail or "")
    return None if match is None else int(match.group(1) or match.group(2))


def blame(error: JinaError, sent: Sequence[int]) -> JinaError:
    """
    Tell `send_isolating` which position the error's `input[k]` is: `sent` lists the positions whose inputs
    the request carried, in order (inputs that failed on their own were not sent and have no index).
    """
    index = named_input(error)
    error.__dict__["_blamed_position"] = sent[index] if index is not None and index < len(sent) else None
    return error


async def send_isolating(
    units: Sequence[list[int]], send: Callable[[list[int]], Awaitable[R]], *, isolate: bool = True
) -> list[Piece[R]]:
    """
    Send `units` (lists of positions that travel together) in one request, splitting it on an input's rejection.

    :param send: Sends one request for the given positions and returns its result, or raises `JinaError`
        (after calling `blame` with the positions it sent, for a rejection that names an input).
    :param isolate: `False` sends once and lets its error propagate (with `raise_on_failure`, where the
        first error is raised anyway).
    :returns: The pieces the positions went out in, each with its result or its `JinaError`. Any other
        exception (a bug, a cancellation) propagates.
    """
    if not isolate:
        positions = [p for unit in units for p in unit]
        return [Piece(positions, await send(positions))]
    pieces: list[Piece[R]] = []

    async def attempt(group: Sequence[list[int]]) -> bool:
        """Send `group` (split on an input's rejection); whether all of it went through."""
        positions = [p for unit in group for p in unit]
        try:
            pieces.append(Piece(positions, await send(positions)))
            return True
        except JinaError as error:
            if len(group) == 1 or not is_input_rejection(error):
                pieces.append(Piece(positions, error))
                return False
            await split(group, error)
            return False

    async def split(group: Sequence[list[int]], error: JinaError) -> None:
        """`group` failed because of one (or more) of its units: find it, sending the others."""
        blamed = error.__dict__.get("_blamed_position")
        alone = [unit for unit in group if blamed in unit]
        if alone:  # the server named it: that unit alone, then the rest
            await attempt(alone)
            await attempt([unit for unit in group if blamed not in unit])
            return
        half = len(group) // 2
        first, second = group[:half], group[half:]
        if await attempt(first) and len(second) > 1:
            await split(second, error)  # the fault is in `second`: no need to send it whole
        else:
            await attempt(second)

    await attempt(units)
    return pieces
