"""Small pieces every Jina component needs: serialization and run_async on top of the sync client."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from haystack import default_from_dict, default_to_dict
from haystack.utils import Secret, deserialize_secrets_inplace

T = TypeVar("T")


def to_dict(component: Any, api_key: Secret, **init_parameters: Any) -> dict[str, Any]:
    """`default_to_dict` with the key serialized as a Secret (a token Secret refuses, as Haystack wants)."""
    return default_to_dict(component, api_key=api_key.to_dict(), **init_parameters)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Inverse of `to_dict`. Unlike Haystack's helpers, it leaves the caller's dictionary untouched."""
    data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
    deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
    component: T = default_from_dict(cls, data)
    return component


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """
    Run blocking client work in a worker thread so the event loop stays free.

    The client is built on `requests` (blocking); each call already fans its batches out over a thread
    pool, so awaiting it in a thread gives the same concurrency without a second HTTP stack.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(function, *args, **kwargs))
