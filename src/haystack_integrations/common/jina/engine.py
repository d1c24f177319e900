"""The one event loop on which every request of this process runs.

The concurrency model, in five lines:

1. Every request is an asyncio task on one event loop per process, run by a daemon thread started on first
   use (`loop()`). `run` blocks on its work there (`run_sync`); `run_async` awaits it from the caller's own
   loop (`run_async`). A call waiting for a slot holds a task, never a thread.
2. While on the wire, a request holds one slot of its component's `max_concurrency` and one of its key's
   bound (the pacer, `ratelimit.py`); both are plain counters on this loop, so no lock is needed.
3. Cancelling `run_async`, or Ctrl-C in `run`, cancels the work's task: no new request starts, and
   requests on the wire are abandoned at once.

A forked child starts without the parent's loop and thread; it makes its own on first use (`fork.py`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.cancellation import JinaCancelledError, current_token

T = TypeVar("T")

#: How often `run_sync` looks for Ctrl-C and for a cancelled call (a blocked wait would not see either).
POLL_SECONDS = 0.1

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_start_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    """The process's request loop, started on first use."""
    global _loop, _thread  # noqa: PLW0603
    current = _loop
    if current is not None:
        return current
    with _start_lock:
        if _loop is None:
            new_loop = asyncio.new_event_loop()
            new_loop.set_exception_handler(_quiet_unclosed)
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            _thread = threading.Thread(target=serve, name="jina-requests", daemon=True)
            _thread.start()
            ready.wait()
            _loop = new_loop
        return _loop


def _quiet_unclosed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client dropped without `close()` (or alive at exit) leaves its connections to the GC: that is fine here."""
    if str(context.get("message", "")).startswith(("Unclosed client session", "Unclosed connector")):
        return
    loop.default_exception_handler(context)


def in_loop_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """
    Run `work` on the request loop and wait for its result, from any thread but the loop's own.

    Ctrl-C (or a cancelled call token, see `cancellation`) cancels the work at once and re-raises.
    """
    if in_loop_thread():
        work.close()
        msg = "A Jina component's blocking run() was called from inside its own request loop; use run_async()"
        raise RuntimeError(msg)
    future = asyncio.run_coroutine_threadsafe(work, loop())
    token = current_token()
    try:
        while True:
            try:
                return future.result(POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                if token is not None and token.cancelled:
                    msg = "Cancelled: the call was cancelled or another request failed."
                    raise JinaCancelledError(msg) from None
    except BaseException:
        future.cancel()
        raise


async def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Await `work`, run on the request loop; cancelling the awaiting task cancels the work."""
    running = asyncio.get_running_loop()
    target = loop()
    if running is target:
        return await work
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, target))


@fork.on_fork_in_child
def _forget_loop() -> None:
    """The loop's thread does not exist in a forked child: the child starts its own on first use."""
    global _loop, _thread, _start_lock
    _loop, _thread, _start_lock = None, None, threading.Lock()


__all__ = ["in_loop_thread", "loop", "run_async", "run_sync"]
