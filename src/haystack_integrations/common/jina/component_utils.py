"""Small pieces every Jina component needs: lifecycle, serialization and run_async on top of the sync client."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from haystack import Document, default_from_dict, default_to_dict
from haystack.utils import Secret, deserialize_secrets_inplace

from haystack_integrations.common.jina import engine
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

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        """Warm up, then run `work` (the component's requests) on the request loop and wait for it (`run`)."""
        try:
            self.warm_up()  # a missing key raises here, before any item can fail on its own
        except BaseException:
            work.close()
            raise
        return engine.run_sync(work)

    async def _call_async(self, work: Coroutine[Any, Any, T]) -> T:
        """Warm up, then await `work` on the request loop (`run_async`): the caller's loop stays free."""
        try:
            self.warm_up()
        except BaseException:
            work.close()
            raise
        return await engine.run_async(work)

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


def stated(**parameters: Any) -> dict[str, Any]:
    """The parameters that are set (not `None`): what this package added is serialized only then (drop-in YAML)."""
    return {name: value for name, value in parameters.items() if value is not None}


def to_dict(component: Any, api_key: Secret, **init_parameters: Any) -> dict[str, Any]:
    """`default_to_dict` with the key serialized as a Secret (a token Secret refuses, as Haystack wants)."""
    return default_to_dict(component, api_key=api_key.to_dict(), **init_parameters)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Inverse of `to_dict`. Unlike Haystack's helpers, it leaves the caller's dictionary untouched."""
    data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
    deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
    component: T = default_from_dict(cls, data)
    return component
