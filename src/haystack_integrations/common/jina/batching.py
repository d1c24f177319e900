"""Run many requests concurrently and get the results back in input order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def gather_ordered(
    fn: Callable[[T], Awaitable[R]],
    items: Sequence[T],
    *,
    on_done: Callable[[T], None] | None = None,
    fail_fast: bool = True,
) -> list[R | Exception]:
    """
    Await `fn` on every item at once and return the results in input order.

    How many run at a time is the client's business (each request waits for its slots there, in order of
    arrival), so this only starts them all and collects.

    :param on_done: Called with each item as soon as its call finishes (for progress bars).
    :param fail_fast: If `True`, the first exception is raised at once and the other calls are cancelled
        (no new request starts; requests on the wire are abandoned). If `False`, exceptions take the
        place of results in the returned list.
    :returns: One entry per item, in input order: the result of `fn`, or the exception it raised.
    """

    async def one(item: T) -> R | Exception:
        try:
            result: R | Exception = await fn(item)
        except Exception as error:
            if fail_fast:
                raise
            result = error
        if on_done is not None:
            on_done(item)
        return result

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


@contextmanager
def progress(total: int, *, enabled: bool, desc: str) -> Iterator[Callable[[int], Any]]:
    """A tqdm progress bar (as Haystack uses) counting `total` units; yields its `update` function."""
    from tqdm import tqdm

    with tqdm(total=total, disable=not enabled, desc=desc, unit="doc") as bar:
        yield bar.update
