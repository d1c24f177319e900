"""What a forked child must not inherit: sessions, locks, counters and thread pools of its parent.

After `os.fork` (multiprocessing's default on Linux, gunicorn and Celery workers) the child holds copies
of its parent's keep-alive sockets, so both would read each other's answers; of locks another thread
held at the fork, which nobody will release; of concurrency counters that count the parent's requests
in flight; and of thread pools whose threads do not exist in the child. Everything in this package that
holds such state registers here, and `os.register_at_fork` resets it in the child before any code of the
child runs.

Two ways to register:

- `on_fork_in_child(callback)`: module-level state (a process-wide pool, a registry shared per key and
  host). The callback runs once in every child.
- `track(obj)`: per-instance state. `obj._after_fork_in_child()` is called in every child for as long
  as the object lives (held weakly).

A callback must only drop and recreate state, never close it (closing a socket shared with the parent
could cut the parent's connection) and never block.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class ForkAware(Protocol):
    def _after_fork_in_child(self) -> None: ...


F = TypeVar("F", bound=Callable[[], Any])
A = TypeVar("A", bound=ForkAware)

_callbacks: list[Callable[[], Any]] = []
_tracked: weakref.WeakSet[Any] = weakref.WeakSet()


def on_fork_in_child(callback: F) -> F:
    """Run `callback()` in every child process after a fork. Usable as a decorator."""
    _callbacks.append(callback)
    return callback


def track(obj: A) -> A:
    """Call `obj._after_fork_in_child()` in every child process after a fork while `obj` lives."""
    _tracked.add(obj)
    return obj


def _reset_in_child() -> None:
    # The child has one thread here, so nothing changes these collections while they are walked.
    for callback in list(_callbacks):
        callback()
    for obj in list(_tracked):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_reset_in_child)
