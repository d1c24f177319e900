"""The one event loop on which every request of this process runs.

The concurrency model:

1. Every request is an asyncio task on one event loop per process, run by a daemon thread started on first
   use (`loop()`). `run` blocks on its work there (`run_sync`); `run_async` awaits it from the caller's own
   loop (`run_async`). A call waiting for a slot holds a task, never a thread.
2. While on the wire, a request holds one slot of its component's `max_concurrency` and one of its key's
   share (the pacer, `pacing/pacer.py`); both are plain counters on this loop, so no lock is needed.
3. Cancelling `run_async`, or Ctrl-C in `run`, cancels the work's task: no new request starts, and
   requests on the wire are abandoned at once.

A forked child starts without the parent's loop and thread; it makes its own on first use (`fork.py`).

Sessions close on this loop, whether or not anyone calls `close()` (`close_with`): when their owner is
collected, or at interpreter exit, before the loop stops. So a script that never closes its components
exits without a warning, `python -X dev -W error::ResourceWarning` included, in a forked child too.
The exit is bounded: it waits at most `EXIT_SECONDS` for the loop to end its work and close its sessions, as
long again for the loop to stop and close, and leaves to the OS, without a word, what would not end.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import gc
import threading
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp

from haystack_integrations.common.jina import fork

T = TypeVar("T")

#: How often `run_sync` looks for Ctrl-C (a blocked wait would not see it).
POLL_SECONDS = 0.1
#: The most interpreter exit waits for the loop to close its sessions, then to stop.
EXIT_SECONDS = 2.0
#: Each of the exit's waits on the loop for work to end: cancelled tasks, session closes, what is left at the stop.
END_WAIT_SECONDS = EXIT_SECONDS / 4

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
                new_loop.run_forever()  # until interpreter exit stops it
                _close_on_its_thread(new_loop)

            _thread = threading.Thread(target=serve, name="jina-requests", daemon=True)
            _thread.start()
            ready.wait()
            _loop = new_loop
            atexit.register(_wind_down_at_exit, new_loop, _thread)
        return _loop


def _quiet_unclosed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """
    A client dropped without `close()` (or alive at exit) leaves its connections to the GC: that is fine here.

    So is a task still pending once exit closed the loop: it ignored cancellation, and the process is ending.
    """
    message = str(context.get("message", ""))
    if message.startswith(("Unclosed client session", "Unclosed connector")):
        return
    if loop.is_closed() and message == "Task was destroyed but it is pending!":
        return
    loop.default_exception_handler(context)


# ---------------------------------------------------------------------------------- sessions and exit
#: One per session handed to `close_with` (those that fired are dropped at the next call).
_finalizers: set[weakref.finalize[Any, Any]] = set()
#: Closes under way: a task nobody holds may be collected before it ends.
_closing: set[asyncio.Task[None]] = set()
#: A forked child's inherited sessions and loops: kept, never closed nor collected (see `_forget_loop`).
_inherited: list[Any] = []
_inherited.append(_inherited)  # a cycle: clearing this module at exit does not free it; only the GC could


def close_with(owner: object, session: aiohttp.ClientSession) -> None:
    """
    Close `session` on the request loop once `owner` is collected, or at interpreter exit, whichever is first.

    Call it on the request loop, right after making the session. Closing it earlier (`close()`) is fine:
    closing twice does nothing.
    """
    target = loop()
    finalizer = weakref.finalize(owner, _close_soon, target, session)
    finalizer.atexit = False  # `_wind_down_at_exit` closes it on the loop, before the loop stops
    _finalizers.difference_update([f for f in _finalizers if not f.alive])
    _finalizers.add(finalizer)


def _close_soon(target: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    """The owner was collected (in any thread, the loop's too): close its session on the loop."""
    if not session.closed:
        with contextlib.suppress(RuntimeError):  # the loop is closed: exit already closed everything
            target.call_soon_threadsafe(_start_closing, session)


def _start_closing(session: aiohttp.ClientSession) -> None:
    task = asyncio.ensure_future(session.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def _wind_down_at_exit(target: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """At interpreter exit: end what is left on the loop, close the open sessions, stop it (its thread closes it)."""
    if target is not _loop or not thread.is_alive() or target.is_closed():  # a fork's child, or gone already
        return
    sessions = [detached[2][1] for finalizer in list(_finalizers) if (detached := finalizer.detach())]
    ending = _end_all(sessions)
    try:
        future = asyncio.run_coroutine_threadsafe(ending, target)
    except RuntimeError:  # the loop closed meanwhile
        ending.close()  # never started: no "never awaited"
        return
    # an exit must not fail: what could not close is left to the OS. A busy loop may not even have started
    # `_end_all` by then: stopping the loop below ends it on the loop's thread either way (`_close_on_its_thread`)
    with contextlib.suppress(Exception, concurrent.futures.CancelledError):
        future.result(EXIT_SECONDS)
    with contextlib.suppress(RuntimeError):
        target.call_soon_threadsafe(target.stop)
    # still busy after this, the thread is frozen at finalization with everything it holds: nothing is destroyed
    thread.join(EXIT_SECONDS)


async def _end_all(sessions: list[aiohttp.ClientSession]) -> None:
    """
    Cancel the work nobody waits for any more, then close the sessions; their transports close on the way.

    Each wait is bounded, so this ends on its own within `EXIT_SECONDS` on a loop that is not busy.
    """
    here = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not here and task not in _closing]
    for task in pending:
        task.cancel()
    await _wait_for_some([*pending, *_closing])
    await _wait_for_some([asyncio.ensure_future(session.close()) for session in sessions if not session.closed])
    await asyncio.sleep(0)  # the transports' connection_lost callbacks run on the next turn


async def _wait_for_some(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait up to `END_WAIT_SECONDS` for `tasks`; read the errors of those that ended (no "never retrieved")."""
    if tasks:
        done, _ = await asyncio.wait(tasks, timeout=END_WAIT_SECONDS)
        for task in done:
            if not task.cancelled():
                task.exception()


def _close_on_its_thread(target: asyncio.AbstractEventLoop) -> None:
    """
    The loop stopped at exit: cancel what is still on it, wait a little, close it.

    Left on it may be `_end_all` itself (never started if the loop was busy, or not done) and work that outlasted
    its waits. Cancelling a task that never started closes its coroutine: no "never awaited". A task still
    pending after this ignores cancellation: the closed loop lets it go without a word (`_quiet_unclosed`).
    """
    left = list(asyncio.all_tasks(target))
    for task in left:
        task.cancel()
    try:
        target.run_until_complete(_wait_for_some(left))
    finally:
        target.close()


def in_loop_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """
    Run `work` on the request loop and wait for its result, from any thread but the loop's own.

    Ctrl-C cancels the work at once and re-raises.
    """
    if in_loop_thread():
        work.close()
        msg = "A Jina component's blocking run() was called from inside its own request loop; use run_async()"
        raise RuntimeError(msg)
    future = asyncio.run_coroutine_threadsafe(work, loop())
    try:
        while True:
            # a timed wait: a Ctrl-C that the kernel handed to another thread reaches Python only when the
            # main thread runs again
            with contextlib.suppress(concurrent.futures.TimeoutError):
                return future.result(POLL_SECONDS)
    except BaseException:
        future.cancel()
        raise


async def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Await `work`, run on the request loop; cancelling the awaiting task cancels the work."""
    running = asyncio.get_running_loop()
    target = loop()
    if running is target:
        return await work
    outcome: asyncio.Future[T] = running.create_future()
    reply = _mailbox(running)
    started: list[asyncio.Task[T]] = []

    def start() -> None:  # on the request loop
        task = target.create_task(work)
        started.append(task)
        task.add_done_callback(lambda done: reply.post(_settle, outcome, done))

    requests_box = _mailbox(target)
    requests_box.post(start)
    try:
        return await outcome
    except asyncio.CancelledError:
        requests_box.post(lambda: started and started[0].cancel())  # after `start`: the box keeps the order
        raise


def _settle(outcome: asyncio.Future[T], task: asyncio.Task[T]) -> None:
    if task.cancelled():
        if not outcome.done():
            outcome.cancel()
        return
    error = task.exception()  # read even when nobody waits any more: no "never retrieved" warning
    if outcome.done():
        return
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(task.result())


class _Mailbox:
    """
    Work handed to one event loop from other threads, with one wake-up per batch instead of one per item.

    `call_soon_threadsafe` wakes the loop with a write to a socket, and every such system call hands the GIL
    over: with hundreds of calls crossing between the caller's loop and the request loop at once, those
    hand-overs (not the work) made the caller's loop lag by 100 ms and more.
    """

    def __init__(self, target: asyncio.AbstractEventLoop) -> None:
        self._loop = target
        self._items: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def post(self, function: Callable[..., Any], *args: Any) -> None:
        self._items.append((function, args))
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to run this
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        while self._items:
            function, args = self._items.popleft()
            function(*args)


_mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()
_mailboxes_lock = threading.Lock()


def _mailbox(target: asyncio.AbstractEventLoop) -> _Mailbox:
    box = _mailboxes.get(target)
    if box is None:
        with _mailboxes_lock:
            box = _mailboxes.get(target)
            if box is None:
                box = _mailboxes[target] = _Mailbox(target)
    return box


@fork.on_fork_in_child
def _forget_loop() -> None:
    """
    The loop's thread does not exist in a forked child: the child starts its own on first use.

    The parent's sessions and loop are kept for the child's life, never closed nor collected: closing
    them (which a collected connector does) would unregister their sockets from the epoll set the parent
    shares, so the parent would wait forever on its next answer; and collecting them warns of unclosed
    sessions. At the child's exit the GC is frozen, so they are not collected then either; their file
    descriptors close with the process, which leaves the parent's sockets and epoll set as they were.
    """
    global _loop, _thread, _start_lock
    inherited = [detached[2][1] for finalizer in list(_finalizers) if (detached := finalizer.detach())]
    _finalizers.clear()
    if _loop is not None:
        if len(_inherited) == 1:  # the first fork that leaves something behind in this process
            atexit.register(gc.freeze)
        _inherited.extend([_loop, *inherited])
    _loop, _thread, _start_lock = None, None, threading.Lock()


__all__ = ["close_with", "in_loop_thread", "loop", "run_async", "run_sync"]
