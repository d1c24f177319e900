"""
One engine for a job of many requests: each request's inputs, body and answer, run at once, merged by position.

A component describes its job as a `Job` (how a position becomes a request input, the body of a batch's
inputs, how an answer becomes one value per input) and `run_job` does the rest: it runs one request per
group of positions (how many at once is the client's business: each waits for its slots there), prepares a
batch's images in parallel once its request has its slots, keeps each input's own error, and returns an
`Outcome`: values and errors by position, the summed usage, the model that answered.

`gather` is the layer below, for jobs whose requests are not JSON bodies (the Reader): it runs one
coroutine per group and merges the `Outcome` each returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from haystack import logging

from haystack_integrations.common.jina.answer_checks import add_usage
from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaError, JinaInputError
from haystack_integrations.common.jina.http.body import JsonBody, encode_json
from haystack_integrations.common.jina.http.client import JinaClient
from haystack_integrations.common.jina.images import ImageSource, ImageURL, images_in_flight
from haystack_integrations.common.jina.isolation import blame, send_isolating

logger = logging.getLogger(__name__)

V = TypeVar("V")
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Outcome(Generic[V]):
    """What requests gave, by input position: a value or an error each; the summed usage; the model that answered."""

    values: dict[int, V] = field(default_factory=dict)
    errors: dict[int, Exception] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None

    def merge(self, other: Outcome[V]) -> None:
        self.values.update(other.values)
        self.errors.update(other.errors)
        add_usage(self.usage, other.usage)
        self.model = other.model or self.model


@dataclass(frozen=True)
class Job(Generic[V]):
    """
    What a component supplies to `run_job`.

    :param url: The endpoint.
    :param input_of: A position's request input; raises `JinaInputError` for one that cannot be made. It runs
        once the request has its slots, so heavy inputs exist only while in flight.
    :param body: The request body of one batch's inputs.
    :param parse: An answer and how many inputs it answers -> `(values in input order, model, usage)`.
    :param size_of: Characters and images of a batch, for the pacer's estimate before its inputs exist.
    :param images: Positions whose input is an image: a batch's are prepared in parallel (in a worker thread
        and on the decode pool) and replace `input_of` for those positions.
    :param image_size: The box images are shrunk to fit.
    :param whole: Send each group whole, never split on an input's rejection (late chunking reads a
        request's inputs as one text).
    :param in_thread: Make every body in a worker thread (`input_of` blocks), not only those with images.
    :param on_rejected: What the endpoint adds to a rejection of a request (400, 422), given the positions that
        were sent: embeddings say that `truncate=True` fixes an over-long input and name the likely one.
    :param ids: Names of the inputs for the log line of a failed request (document ids).
    :param what: What the job does, for that log line and the progress bar ("Calculating embeddings").
    """

    url: str
    input_of: Callable[[int], Any]
    body: Callable[[list[Any]], Mapping[str, Any]]
    parse: Callable[[Any, int], tuple[list[V], str | None, dict[str, int]]]
    size_of: Callable[[list[int]], tuple[int, int]]
    images: Mapping[int, ImageSource | ImageURL] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    whole: bool = False
    in_thread: bool = False
    on_rejected: Callable[[JinaBadRequestError, list[int]], JinaError] | None = None
    ids: Sequence[str] = ()
    what: str = "Request"


async def run_job(
    client: JinaClient,
    job: Job[V],
    groups: Sequence[list[int]],
    *,
    raise_on_failure: bool,
    progress_bar: bool = False,
) -> Outcome[V]:
    """
    Send one request per group of positions, all at once, and merge their answers by position.

    :param raise_on_failure: `True`: the first error (an input's, a request's) is raised and the other requests
        are cancelled. `False`: an input that cannot be made is left out of its request, and a failed request
        fails its inputs; each is in `errors` (an input's own error wins over its request's).
    :param progress_bar: Show a bar named `job.what` counting inputs done.
    :raises Exception: An error that is no `JinaError` (a bug, never swallowed), whatever `raise_on_failure`.
    """
    own_errors: dict[int, Exception] = {}  # kept when the request fails too: it is the error to fix

    async def one_request(positions: list[int]) -> Outcome[V]:
        outcome: Outcome[V] = Outcome()
        sent: list[int] = []
        images = {p: job.images[p] for p in positions if p in job.images}

        def make_body() -> JsonBody | None:
            inputs = []
            with images_in_flight(images, job.image_size) as image_of:
                for position in positions:
                    try:
                        inputs.append(image_of(position) if position in images else job.input_of(position))
                    except JinaInputError as error:
                        if raise_on_failure:
                            raise
                        outcome.errors[position] = own_errors[position] = error
                        continue
                    sent.append(position)
            # Serialized once, then the inputs are dropped: while the request waits for its answer only
            # the body's bytes are held (images are large: this halves the memory of a batch in flight).
            return encode_json(job.body(inputs)) if inputs else None

        body = (lambda: asyncio.to_thread(make_body)) if images or job.in_thread else make_body
        size = job.size_of(positions)
        try:
            answer = await client.post_json_async(job.url, body, size=size)
        except JinaError as error:
            if isinstance(error, JinaBadRequestError) and job.on_rejected is not None:
                error = job.on_rejected(error, sent)
            raise blame(error, sent) from None  # which input a rejection names, for the split below
        if answer is not None:
            values, outcome.model, outcome.usage = job.parse(answer, len(sent))
            outcome.values = dict(zip(sent, values, strict=True))
        return outcome

    async def one_batch(positions: list[int]) -> Outcome[V]:
        # a request refused because of one input is split, so only that input fails (see isolation.py)
        units = [positions] if job.whole else [[p] for p in positions]
        outcome: Outcome[V] = Outcome()
        for piece in await send_isolating(units, one_request):
            if isinstance(piece.outcome, JinaError):
                outcome.errors.update(dict.fromkeys(piece.positions, piece.outcome))
            else:
                outcome.merge(piece.outcome)
        return outcome

    total = sum(len(group) for group in groups)
    with progress(total, enabled=progress_bar, desc=job.what) as advance:
        # with raise_on_failure the first error is raised anyway: nothing to split
        send = one_request if raise_on_failure else one_batch
        outcome = await gather(send, groups, fail_fast=raise_on_failure, on_done=lambda group: advance(len(group)))
    for position, error in outcome.errors.items():
        if not isinstance(error, JinaError):
            raise error  # a bug, not an API failure: never swallow it
        outcome.errors[position] = own_errors.get(position, error)
    _log_failures(job, groups, outcome.errors, own_errors)
    return outcome


async def gather(
    send: Callable[[list[int]], Awaitable[Outcome[V]]],
    groups: Sequence[list[int]],
    *,
    fail_fast: bool,
    on_done: Callable[[list[int]], Any] | None = None,
) -> Outcome[V]:
    """
    Await `send` on every group at once and merge the outcomes; an exception fails every position of its group.

    How many run at a time is the client's business (each request waits for its slots there, in order of
    arrival), so this only starts them all and collects.

    :param fail_fast: Raise the first exception at once and cancel the other groups (no new request starts;
        requests on the wire are abandoned).
    :param on_done: Called with each group as it finishes (for progress bars).
    """

    async def one(group: list[int]) -> Outcome[V]:
        try:
            outcome = await send(group)
        except Exception as error:
            if fail_fast:
                raise
            outcome = Outcome(errors=dict.fromkeys(group, error))
        if on_done is not None:
            on_done(group)
        return outcome

    tasks = [asyncio.ensure_future(one(group)) for group in groups]
    try:
        outcomes = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    merged: Outcome[V] = Outcome()
    for outcome in outcomes:
        merged.merge(outcome)
    return merged


async def run_each(send: Callable[[int], Awaitable[V]], count: int, *, fail_fast: bool) -> Outcome[V]:
    """`gather` for jobs of one request per input (the Reader's): `send(position)` gives that input's value."""

    async def one(group: list[int]) -> Outcome[V]:
        return Outcome(values={group[0]: await send(group[0])})

    return await gather(one, [[position] for position in range(count)], fail_fast=fail_fast)


async def gather_ordered(
    fn: Callable[[T], Awaitable[R]],
    items: Sequence[T],
    *,
    on_done: Callable[[T], None] | None = None,
    fail_fast: bool = True,
) -> list[R | Exception]:
    """
    `gather` for a function of one item: the result of `fn` (or the exception it raised) per item, in order.

    :param on_done: Called with each item as soon as its call finishes (for progress bars).
    :param fail_fast: If `True`, the first exception is raised at once and the other calls are cancelled.
    """

    async def send(group: list[int]) -> Outcome[R]:
        return Outcome(values={group[0]: await fn(items[group[0]])})

    outcome = await gather(
        send,
        [[position] for position in range(len(items))],
        fail_fast=fail_fast,
        on_done=None if on_done is None else lambda group: on_done(items[group[0]]),
    )
    return [outcome.values[p] if p in outcome.values else outcome.errors[p] for p in range(len(items))]


@contextmanager
def progress(total: int, *, enabled: bool, desc: str) -> Iterator[Callable[[int], Any]]:
    """A tqdm progress bar (as Haystack uses) counting `total` units; yields its `update` function."""
    from tqdm import tqdm

    with tqdm(total=total, disable=not enabled, desc=desc, unit="doc") as bar:
        yield bar.update


def _log_failures(
    job: Job[Any], groups: Sequence[list[int]], errors: Mapping[int, Exception], own: Mapping[int, Exception]
) -> None:
    for group in groups:
        failed = [p for p in group if p in errors and p not in own]
        if failed:
            ids = [job.ids[p] for p in failed] if job.ids else failed
            logger.warning("{what} failed for {ids}: {error}", what=job.what, ids=ids, error=str(errors[failed[0]]))


def consecutive_groups(count: int, size: int) -> list[list[int]]:
    """Positions 0..count-1 in consecutive groups of at most `size`: one request each."""
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]
