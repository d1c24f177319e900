"""Request bodies: JSON encoded once (large base64 values spliced in without a copy), made when a slot is free."""

from __future__ import annotations

import inspect
import json
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeAlias

from multidict import CIMultiDict

#: A request body: a mapping, a `JsonBody`, or a function making one (maybe awaitable) once a slot is free.
Body: TypeAlias = "Mapping[str, Any] | JsonBody | Callable[[], Any]"

_WRITE_SLICE = 1024 * 1024


class JsonBody:
    """
    A JSON request body serialized into pieces, so large base64 values are sent without being copied.

    Send it with `JinaClient.post_json`; each try streams it afresh (see `stream`).
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.length = sum(len(piece) for piece in pieces)

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    async def stream(self) -> AsyncIterator[bytes]:
        """The pieces, large ones in slices (the socket's buffer holds one slice, not a whole image)."""
        for piece in self.pieces:
            view = memoryview(piece)
            for start in range(0, len(view), _WRITE_SLICE):
                yield bytes(view[start : start + _WRITE_SLICE]) if len(view) > _WRITE_SLICE else piece


def encode_json(payload: Mapping[str, Any]) -> JsonBody:
    """
    A JSON body, serialized as `requests` would (UTF-8, no NaN), for `JinaClient.post_json`.

    A `bytes` value anywhere in the payload must be ASCII that needs no JSON escaping (base64 text):
    it becomes a JSON string that is sent as it is, without a copy, so a body of large images costs
    one copy of them while it waits for its answer, not three (the inputs, a JSON `str`, its bytes).
    """
    blobs: list[bytes] = []
    marker = f"jina-blob-{secrets.token_hex(8)}-"  # random: no text of the payload can contain it

    def splice(value: Any) -> str:
        if not isinstance(value, bytes):
            msg = f"Object of type {type(value).__name__} is not JSON serializable"
            raise TypeError(msg)
        blobs.append(value)
        return f"{marker}{len(blobs) - 1}"

    text = json.dumps(payload, allow_nan=False, default=splice).encode("utf-8")
    parts = text.split(f'"{marker}'.encode())
    pieces = [parts[0]]
    for part in parts[1:]:
        index, _, rest = part.partition(b'"')
        pieces += [b'"', blobs[int(index)], b'"', rest]
    return JsonBody(pieces)


class NothingToSend(Exception):  # noqa: N818
    """A function body made nothing to send (every input failed on its own)."""


class PendingBody:
    """A request body as given (a mapping, a `JsonBody`, or a function making one once a slot is free)."""

    def __init__(self, given: Body | None, size: tuple[int, int] | None) -> None:
        self._given = given
        self._made: Mapping[str, Any] | JsonBody | None = None if callable(given) else given
        self._encoded: bytes | JsonBody | None = None  # what goes on the wire, made on the first try
        #: Characters and images of the body, for the pacer's estimate before a function body is made.
        self.size = size

    @property
    def payload(self) -> Any:
        return self._made

    async def render(self, headers: Mapping[str, str] | None) -> tuple[bytes | JsonBody | None, CIMultiDict[str]]:
        """
        The bytes to send and the headers to add; a function body is made on the first try only.

        :raises NothingToSend: A function body made nothing (no request is to be sent).
        """
        if self._made is None and callable(self._given):
            made = self._given()
            self._made = await made if inspect.isawaitable(made) else made
        sent: CIMultiDict[str] = CIMultiDict(headers or {})
        for name, value in sent.items():
            if not ((name.isascii() and value.isascii()) or _latin1(value)):
                msg = f"The header {name!r} cannot be sent: HTTP headers carry Latin-1 text only (got {value[:60]!r})"
                raise ValueError(msg)
        if self._made is None:
            if callable(self._given):
                raise NothingToSend
            return None, sent
        sent.setdefault("Content-Type", "application/json")
        if self._encoded is None:  # serialized once, not again on each retry
            self._encoded = self._made if isinstance(self._made, JsonBody) else _json_bytes(self._made)
        if isinstance(self._encoded, JsonBody):
            sent["Content-Length"] = str(self._encoded.length)
        return self._encoded, sent


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, allow_nan=False).encode()


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
