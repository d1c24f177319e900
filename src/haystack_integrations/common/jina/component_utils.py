"""Small pieces every Jina component needs: lifecycle, serialization and run_async on top of the sync client."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from haystack import Document, default_from_dict, default_to_dict
from haystack.utils import Secret, deserialize_secrets_inplace

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.cancellation import CancelToken, cancel_scope
from haystack_integrations.common.jina.client import JinaClient

T = TypeVar("T")
C = TypeVar("C", bound="JinaComponentBase")


class JinaComponentBase:
    """
    What every Jina component shares: its client's lifecycle and deserialization.

    The constructor only stores settings. `warm_up` resolves the key and opens the session (`run` calls it
    first); `close` releases them. All four lifecycle methods are idempotent. Copies, pickles and
    forked children get a client of their own (see `JinaClient`), so components need nothing for that.
    """

    _client: JinaClient
    #: The parameters `to_dict` writes whatever their value. For a component of the published
    #: `jina-haystack` package: the ones it writes; for a component new here: those of its first release.
    #: Every other parameter is written only when it differs from its default (see `to_dict`).
    #: `None`: all parameters but those in `ADDED_TO_EVERY_COMPONENT`.
    always_serialized: ClassVar[frozenset[str] | None] = None

    def warm_up(self) -> None:
        """
        Resolve the API key and open the HTTP session; does nothing if they already are.

        :raises JinaMissingKeyError: If the key is not set, naming the environment variable.
        """
        self._client.open()

    async def warm_up_async(self) -> None:
        """Like `warm_up` (it does no I/O, so it does not block the event loop); for `Pipeline.warm_up_async`."""
        self._client.open()

    def close(self) -> None:
        """Close the HTTP session; a later `warm_up` or `run` opens a new one. Idempotent."""
        self._client.close()

    async def close_async(self) -> None:
        """Like `close`: `run` and `run_async` share one session. For `Pipeline.close_async`."""
        self._client.close()

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """
        Deserialize a component from a dictionary made by `to_dict`.

        :param data: The dictionary.
        :returns: The component.
        """
        return from_dict(cls, data)


def check_documents(documents: Any, component: str, hint: str = "") -> None:
    """Raise `TypeError` unless `documents` is a list of Documents; `hint` names the component to use instead."""
    if not isinstance(documents, list):
        msg = f"{component} expects a list of Documents as input, got {type(documents).__name__}. {hint}".rstrip()
        raise TypeError(msg)
    for position, document in enumerate(documents):
        if not isinstance(document, Document):
            msg = (
                f"{component} expects a list of Documents as input; item {position} is a "
                f"{type(document).__name__}. {hint}"
            ).rstrip()
            raise TypeError(msg)


def text_with_meta(document: Document, meta_fields: list[str], separator: str) -> str:
    """The values of `meta_fields` the document has (not None), then its content, joined by `separator`."""
    values = [str(document.meta[key]) for key in meta_fields if document.meta.get(key) is not None]
    return separator.join([*values, document.content or ""])


#: Parameters added to components of every kind after their first release: written only when not the default.
ADDED_TO_EVERY_COMPONENT = frozenset({"max_concurrency"})


def to_dict(component: Any, api_key: Secret, **init_parameters: Any) -> dict[str, Any]:
    """
    `default_to_dict` with the key serialized as a Secret (a token Secret refuses, as Haystack wants).

    Drop-in both ways: a parameter outside the class's `always_serialized` is written only when it
    differs from its `__init__` default, so a component that uses only the published package's
    parameters gives YAML that the published package (and earlier releases of this one) load.
    """
    always = getattr(type(component), "always_serialized", None)
    defaults = init_defaults(type(component))
    written = {
        name: value
        for name, value in init_parameters.items()
        if (name in always if always is not None else name not in ADDED_TO_EVERY_COMPONENT)
        or not is_default(value, defaults.get(name, inspect.Parameter.empty))
    }
    return default_to_dict(component, api_key=api_key.to_dict(), **written)


def init_defaults(cls: type[Any]) -> dict[str, Any]:
    """The defaults of `cls.__init__`'s parameters (`inspect.Parameter.empty` for required ones)."""
    # `__init__`, not the class: the signature of a component class is its metaclass' `__call__(*args, **kwargs)`
    return {name: parameter.default for name, parameter in inspect.signature(cls.__init__).parameters.items()}


def is_default(value: Any, default: Any) -> bool:
    """Whether `value` is what the default means; an empty list, dict or string stands for a `None` default."""
    if default is inspect.Parameter.empty:
        return False
    if default is None and isinstance(value, list | tuple | dict | str) and not value:
        return True  # e.g. meta_fields_to_embed=None is kept as []
    return type(value) is type(default) and bool(value == default)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Inverse of `to_dict`. Unlike Haystack's helpers, it leaves the caller's dictionary untouched."""
    data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
    deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
    component: T = default_from_dict(cls, data)
    return component


_LIVE_CALLS = 32
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


@fork.on_fork_in_child
def _forget_gates() -> None:
    """A forked child has none of its parent's call threads: their slots would never be given back."""
    global _gates  # noqa: PLW0603
    _gates = weakref.WeakKeyDictionary()


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """
    Run blocking client work in a worker thread so the event loop stays free.

    The client is built on `requests` (blocking); each call already fans its batches out over a thread
    pool, so awaiting it in a thread gives the same concurrency without a second HTTP stack.

    Each call gets a thread of its own rather than a slot in a shared pool: a cancelled call whose request
    is stuck on a slow server keeps its thread until `timeout`, and with a fixed pool enough of those
    would make every later `run_async` wait. At most `_LIVE_CALLS` calls per event loop run at once, but
    a cancelled call leaves that count at once, while its thread winds down. Cancelling the awaiting task
    cancels the call's token, so no new request of the call starts and its backoff sleeps end (requests
    already sent finish).
    """
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(_LIVE_CALLS)
    async with gate:
        return await _run_in_own_thread(loop, function, *args, **kwargs)


async def _run_in_own_thread(
    loop: asyncio.AbstractEventLoop, function: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    outcome: asyncio.Future[T] = loop.create_future()
    token = CancelToken()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not outcome.done():
            setter(value)

    def work() -> None:
        try:
            with cancel_scope(token):
                result = function(*args, **kwargs)
        except BaseException as error:  # handed to the awaiting task, which re-raises it
            _call_soon(loop, deliver, outcome.set_exception, error)
        else:
            _call_soon(loop, deliver, outcome.set_result, result)

    threading.Thread(target=work, name="jina-async", daemon=True).start()
    try:
        return await outcome
    except asyncio.CancelledError:
        token.cancel()
        raise


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for this abandoned call any more
        loop.call_soon_threadsafe(callback, *args)
