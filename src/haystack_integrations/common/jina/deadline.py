"""A deadline for a whole HTTP exchange: connect, headers and the full body, not each socket read.

`requests`' `timeout` bounds each socket operation, so a server that trickles one byte per second
keeps a request alive forever. Here the client opens a `Deadline` around each exchange; the
connection urllib3 uses for it is attached to the deadline (by the pool classes below), and one
process-wide watchdog thread shuts that socket down when the deadline passes. The blocked read
then ends with an error, which the client reports as `JinaTimeoutError` because `expired` is set.
A forked child starts its own watchdog (see `fork.py`).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from haystack_integrations.common.jina import fork


class Deadline:
    """The end time of one exchange, and the connection to cut when it passes."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._connection: Any = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def attach(self, connection: Any) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _shutdown(connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._connection is not None:
                _shutdown(self._connection)


def _shutdown(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    # the plain socket's shutdown, also for TLS sockets: the reader sees EOF, the TLS state is not touched
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that expires deadlines in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._live: set[int] = set()
        self._counter = itertools.count()
        self._cond = threading.Condition()
        threading.Thread(target=self._loop, name="jina-deadline", daemon=True).start()

    def add(self, deadline: Deadline) -> int:
        key = next(self._counter)
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, key, deadline))
            self._live.add(key)
            self._cond.notify()
        return key

    def remove(self, key: int) -> None:
        with self._cond:
            self._live.discard(key)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                at, key, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(key)
            deadline.expire()


_watchdogs: dict[int, _Watchdog] = {}  # by process id: a forked child needs its own thread
_watchdog_lock = threading.Lock()
_local = threading.local()


@fork.on_fork_in_child
def _forget_watchdog() -> None:
    """The child has no watchdog thread, and the lock may have been held by a parent's thread at the fork."""
    global _watchdog_lock  # noqa: PLW0603
    _watchdogs.clear()
    _watchdog_lock = threading.Lock()


def _watchdog() -> _Watchdog:
    pid = os.getpid()
    with _watchdog_lock:
        if pid not in _watchdogs:
            _watchdogs.clear()
            _watchdogs[pid] = _Watchdog()
        return _watchdogs[pid]


@contextmanager
def watch(seconds: float) -> Iterator[Deadline]:
    """Bound everything this thread does on the wire inside the block to `seconds` in total."""
    deadline = Deadline(seconds)
    watchdog = _watchdog()
    key = watchdog.add(deadline)
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield deadline
    finally:
        _local.deadline = previous
        watchdog.remove(key)


class _Watched:
    """Mixed into urllib3's connections: attach the connection to the current thread's deadline."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline: Deadline | None = getattr(_local, "deadline", None)
        if deadline is not None:
            deadline.attach(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """An `HTTPAdapter` whose connections obey `watch` deadlines (also through HTTP proxies)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # SOCKS managers bring connection classes of their own; those keep the per-read timeout only
        if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


__all__ = ["Deadline", "WatchedAdapter", "watch"]
