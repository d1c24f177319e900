"""Cooperative cancellation: once a call is cancelled, no new request starts and backoff sleeps end.

A `CancelToken` belongs to one call (a `run`, a `run_async`, one `map_ordered`). The thread doing the
call's work makes it current with `cancel_scope`; the client checks the current token before each
attempt and sleeps its backoff on it, so `cancel()` from another thread (the event loop cancelling a
`run_async`, `map_ordered` failing fast or seeing Ctrl-C) stops the work at the next request boundary.
Requests already on the wire are not interrupted: they finish (bounded by `timeout`), and are not retried.
Tokens nest: cancelling a parent cancels its children (the batches of a cancelled `run_async`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from haystack_integrations.common.jina.errors import JinaError


class JinaCancelledError(JinaError):
    """The call was cancelled (fail fast after another batch failed, `run_async` cancelled, Ctrl-C)."""


class CancelToken:
    """A thread-safe flag that can be waited on; cancelling it cancels its children too."""

    def __init__(self, parent: CancelToken | None = None) -> None:
        self._event = threading.Event()
        self._children: set[CancelToken] = set()
        self._lock = threading.Lock()
        self._parent = parent
        if parent is not None:
            parent._adopt(self)

    def _adopt(self, child: CancelToken) -> None:
        with self._lock:
            self._children.add(child)
        if self.cancelled:  # cancelled while the child was being made
            child.cancel()

    def detach(self) -> None:
        """Stop following the parent (when this token's call is over), so parents do not collect children."""
        if self._parent is not None:
            with self._parent._lock:
                self._parent._children.discard(self)
            self._parent = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            children = list(self._children)
        for child in children:
            child.cancel()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; returns `True` (early) if the token is cancelled meanwhile."""
        return self._event.wait(max(0.0, seconds))

    def raise_if_cancelled(self, what: str = "the call") -> None:
        if self.cancelled:
            msg = f"Cancelled: {what} was not sent because the call was cancelled or another request failed."
            raise JinaCancelledError(msg)


_local = threading.local()


def current_token() -> CancelToken | None:
    """The token of the call this thread works for, if any."""
    token: CancelToken | None = getattr(_local, "token", None)
    return token


@contextmanager
def cancel_scope(token: CancelToken) -> Iterator[CancelToken]:
    """Make `token` current in this thread for the duration of the block."""
    previous = current_token()
    _local.token = token
    try:
        yield token
    finally:
        _local.token = previous


#: How often a wait for a slot looks at the call's token (a condition cannot wait on an event as well).
_POLL_SECONDS = 0.05


def wait_for_slot(cond: threading.Condition, timeout: float | None, what: str) -> None:
    """
    `cond.wait(timeout)` (the caller holds `cond` and loops), ended by a cancellation of this thread's call.

    :raises JinaCancelledError: If the call's token is cancelled before or during the wait.
    """
    token = current_token()
    if token is None:
        cond.wait(timeout)
        return
    token.raise_if_cancelled(what)
    cond.wait(_POLL_SECONDS if timeout is None else min(timeout, _POLL_SECONDS))
    token.raise_if_cancelled(what)


__all__ = ["CancelToken", "JinaCancelledError", "cancel_scope", "current_token", "wait_for_slot"]
