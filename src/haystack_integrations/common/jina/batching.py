"""Run many requests concurrently and get the results back in input order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_ordered(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    max_concurrency: int,
    on_done: Callable[[T], None] | None = None,
    fail_fast: bool = True,
) -> list[R | Exception]:
    """
    Call `fn` on every item with at most `max_concurrency` calls running at once.

    Work starts in input order and each item is handled only when a worker is free, so anything `fn`
    loads for its item (an image, say) lives only while that item is in flight.

    :param on_done: Called with each item as soon as its call finishes (for progress bars).
    :param fail_fast: If `True`, the first exception cancels the items not started yet and is raised.
        If `False`, exceptions take the place of results in the returned list.
    :returns: One entry per item, in input order: the result of `fn`, or the exception it raised.
    """
    if max_concurrency < 1:
        msg = f"max_concurrency must be at least 1, got {max_concurrency}"
        raise ValueError(msg)
    if max_concurrency == 1 or len(items) <= 1:
        return _map_inline(fn, items, on_done, fail_fast)

    results: list[R | Exception] = [None] * len(items)  # type: ignore[list-item]
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(items)), thread_name_prefix="jina") as pool:
        futures: dict[Future[R], int] = {pool.submit(fn, item): i for i, item in enumerate(items)}
        pending: set[Future[R]] = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                index = futures[future]
                error = future.exception()
                if error is not None and fail_fast:
                    for other in pending:
                        other.cancel()
                    raise error
                results[index] = error if isinstance(error, Exception) else future.result()
                if on_done is not None:
                    on_done(items[index])
    return results


def _map_inline(
    fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[T], None] | None, fail_fast: bool
) -> list[R | Exception]:
    results: list[R | Exception] = []
    for item in items:
        try:
            results.append(fn(item))
        except Exception as error:
            if fail_fast:
                raise
            results.append(error)
        if on_done is not None:
            on_done(item)
    return results


@contextmanager
def progress(total: int, *, enabled: bool, desc: str) -> Iterator[Callable[[int], Any]]:
    """A tqdm progress bar (as Haystack uses) counting `total` units; yields its `update` function."""
    from tqdm import tqdm

    with tqdm(total=total, disable=not enabled, desc=desc, unit="doc") as bar:
        yield bar.update
