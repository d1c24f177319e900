"""Run many requests concurrently and get the results back in input order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

from haystack_integrations.common.jina.cancellation import CancelToken, cancel_scope, current_token

T = TypeVar("T")
R = TypeVar("R")

SIGNAL_CHECK_INTERVAL = 0.1  # seconds between the main thread's looks for Ctrl-C while batches run


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


def map_ordered(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    max_concurrency: int,
    on_done: Callable[[T], None] | None = None,
    fail_fast: bool = True,
) -> list[R | Exception]:
    """
    Call a blocking `fn` on every item with at most `max_concurrency` calls running at once, in threads.

    For blocking work only (tests, scripts): the components use `gather_ordered` on the request loop.

    Work starts in input order and each item is handled only when a worker is free, so anything `fn`
    loads for its item (an image, say) lives only while that item is in flight.

    :param on_done: Called with each item as soon as its call finishes (for progress bars).
    :param fail_fast: If `True`, the first exception is raised at once: items not started are cancelled,
        and the calls still running stop before their next request or retry (see `cancellation`).
        If `False`, exceptions take the place of results in the returned list.
    :returns: One entry per item, in input order: the result of `fn`, or the exception it raised.
    """
    if max_concurrency < 1:
        msg = f"max_concurrency must be at least 1, got {max_concurrency}"
        raise ValueError(msg)
    if max_concurrency == 1 or len(items) <= 1:
        return _map_inline(fn, items, on_done, fail_fast)

    # The batches run under a token of their own, child of the caller's (a cancelled `run_async`): the
    # first failure (fail fast) or an interrupt cancels it, which stops retries and unsent requests at once.
    token = CancelToken(current_token())

    def call(item: T) -> R:
        with cancel_scope(token):
            token.raise_if_cancelled("this batch")
            return fn(item)

    results: list[R | Exception] = [None] * len(items)  # type: ignore[list-item]
    pool = ThreadPoolExecutor(max_workers=min(max_concurrency, len(items)), thread_name_prefix="jina")
    try:
        futures: dict[Future[R], int] = {pool.submit(call, item): i for i, item in enumerate(items)}
        pending: set[Future[R]] = set(futures)
        while pending:
            # Wake up now and then: a Ctrl-C delivered to another OS thread only reaches Python's handler
            # when the main thread runs again, and an untimed wait would sleep until every batch is done.
            done, pending = wait(pending, timeout=SIGNAL_CHECK_INTERVAL, return_when=FIRST_EXCEPTION)
            for future in done:
                index = futures[future]
                error = future.exception()
                if error is not None and fail_fast:
                    raise error
                results[index] = error if isinstance(error, Exception) else future.result()
                if on_done is not None:
                    on_done(items[index])
    except BaseException:
        # Fail fast, Ctrl-C, or the caller cancelled: nothing new starts, sleeping retries wake up and give
        # up, and we raise now instead of waiting for the requests on the wire (they end within `timeout`).
        token.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        token.detach()
    pool.shutdown(wait=True)
    return results


def _map_inline(
    fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[T], None] | None, fail_fast: bool
) -> list[R | Exception]:
    results: list[R | Exception] = []
    token = current_token()
    for item in items:
        try:
            if token is not None:
                token.raise_if_cancelled("this batch")
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
