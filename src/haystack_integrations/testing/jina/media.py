"""Audio and video inputs of the v5-omni models (`AudioDoc`, `VideoDoc`): deterministic vectors from their bytes.

A stand-in, like the rest of the emulator: the bytes are not decoded. A file's vector is a hash of its
bytes, plus, where the file carries a title tag (a WAV's RIFF `INFO/INAM`, an MP4's `©nam`), the text vector
of that title in the space text and images share, so a text query can find a titled clip. Assumed (the spec
states none): a token per 1 KB of media, and the emulator's own cap of 40 MB of base64 per input.
"""

from __future__ import annotations

import hashlib
import math

from haystack_integrations.common.jina.media import sniff_kind
from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.images import _b64, _fetch
from haystack_integrations.testing.jina.server import ApiError

MEDIA_BYTES_PER_TOKEN = 1024
MAX_MEDIA_BASE64_CHARS = 40_000_000
#: How much a title tag weighs against the bytes' own hash.
TITLE_SHARE = 2.0


def media_vector(source: object, kind: str, index: int, dimensions: int) -> tuple[list[float], int]:
    """The vector of one audio or video input and the tokens it costs."""
    where = f"input[{index}].{kind}"
    if not isinstance(source, str) or not source.strip():
        raise ApiError(422, f"{where} must be a URL or a base64 string.", field=f"input.{index}.{kind}")
    if source.startswith(("http://", "https://")):
        data = _fetch(source, index, "input")
    elif len(source) > MAX_MEDIA_BASE64_CHARS:
        raise ApiError(422, f"{where} has more than {MAX_MEDIA_BASE64_CHARS} base64 characters (the emulator's cap).")
    else:
        data = _b64(source, index, "input")
    found = sniff_kind(data[:16])
    if not data or found not in (kind, None):
        raise ApiError(422, f"{where}: the bytes are not {kind} (they look like {found or 'nothing known'}).")
    digest = hashlib.sha256(data).hexdigest()
    vector = vectors.normalize(vectors.hashed_vector({f"{kind}:{digest}": 1.0}, dimensions))
    title = _title(data)
    if title:
        words = vectors.normalize(vectors.text_vector(title, dimensions, multimodal=True))
        vector = vectors.mix(vector, words, TITLE_SHARE)
    return vector, max(1, math.ceil(len(data) / MEDIA_BYTES_PER_TOKEN))


def _title(data: bytes) -> str:
    """A title tag, if the file has one: RIFF `LIST/INFO/INAM` (WAV, AVI) or an ISO-media `©nam` item."""
    if data[:4] == b"RIFF":
        position = 12
        while position + 8 <= len(data):
            chunk, size = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "little")
            if chunk == b"LIST" and data[position + 8 : position + 12] == b"INFO":
                inner, end = position + 12, min(position + 8 + size, len(data))
                while inner + 8 <= end:
                    name, length = data[inner : inner + 4], int.from_bytes(data[inner + 4 : inner + 8], "little")
                    if name == b"INAM":
                        return data[inner + 8 : inner + 8 + length].rstrip(b"\x00").decode("utf-8", "replace")
                    inner += 8 + length + (length & 1)
            position += 8 + size + (size & 1)
        return ""
    at = data.find(b"\xa9nam")
    if at < 0 or data[at + 8 : at + 12] != b"data":  # `©nam` box, then its `data` box: size, type, flags, text
        return ""
    size = int.from_bytes(data[at + 4 : at + 8], "big")
    return data[at + 20 : at + 4 + size].decode("utf-8", "replace")
