"""Media files (image, PDF, audio, video) from document meta, for the v5-omni models.

As in `images.py`, two steps: `resolve_media` checks a document cheaply up front (meta, path, size on disk,
type; no file is read beyond its first bytes when the name does not tell the type), and `media_base64`
reads and encodes one file just before its request, so memory stays bounded by what is in flight.

The type comes from `meta["mime_type"]`, else the extension, else the first bytes. The supported types are
the v5-omni model cards' list (reference README). Jina's `AudioDoc`, `VideoDoc` and `PDFDoc` take "a URL or
base64-encoded string"; URLs are sent as they are, for Jina to fetch.

Size: the spec gives no limit for audio, video or PDF. `MAX_MEDIA_FILE_BYTES` (25 MB on disk, about
33 MB of base64) is our cap: a larger file is refused before anything is sent, naming it. Images keep the
API's 8 MB per image: those Pillow decodes are shrunk to fit (as `images.py` does), others (AVIF, HEIC,
SVG) are sent as they are and refused over the limit.
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.image_sources import (
    IMAGE_MIME_TYPES,
    MAX_IMAGE_FILE_BYTES,
    ImageSource,
    locate_file,
    read_limited,
    shown_path,
)
from haystack_integrations.common.jina.images import MAX_IMAGE_BASE64_CHARS, image_base64

#: Our cap for one audio, video or PDF file (the spec states none): refused unread when larger.
MAX_MEDIA_FILE_BYTES = 25 * 1024 * 1024

#: File extensions of each kind, from the v5-omni model cards.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": ("jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "avif", "heic", "svg"),
    "video": ("mp4", "avi", "mov", "mkv", "webm", "flv", "wmv"),
    "audio": ("wav", "mp3", "flac", "ogg", "m4a", "opus"),
    "pdf": ("pdf",),
}
_KIND_OF_EXTENSION = {extension: kind for kind, extensions in EXTENSIONS.items() for extension in extensions}
#: MIME types `mimetypes` may not know, or knows by another name.
_MIME_KINDS = {"application/pdf": "pdf", "application/ogg": "audio", "image/svg+xml": "image"}

#: The request field of each kind: `ImageDoc`, `PDFDoc`, `AudioDoc`, `VideoDoc`.
INPUT_FIELDS = {"image": "image", "pdf": "pdf", "audio": "audio", "video": "video"}


def supported_types() -> str:
    return "; ".join(f"{kind}: {', '.join(extensions)}" for kind, extensions in EXTENSIONS.items())


def kind_of_mime_type(mime_type: str) -> str | None:
    """ "image", "pdf", "audio" or "video" for a MIME type; `None` for another."""
    mime_type = mime_type.split(";", 1)[0].strip().lower()
    if mime_type in _MIME_KINDS:
        return _MIME_KINDS[mime_type]
    major = mime_type.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else None


def kind_of_name(name: str) -> str | None:
    return _KIND_OF_EXTENSION.get(Path(name).suffix.lower().lstrip("."))


def kind_of_bytes(data: bytes, mime_type: str | None, name: str) -> str | None:
    """The kind of in-memory media (a `ByteStream`): from its MIME type if given, else its name, else its bytes."""
    if mime_type:
        return kind_of_mime_type(mime_type)
    return kind_of_name(name) or sniff_kind(data[:16])


def sniff_kind(head: bytes) -> str | None:
    """The kind of a file from its first 16 bytes (the common containers' signatures), if they tell it."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")):
        return "image"
    if head[:4] == b"RIFF":
        return {b"WEBP": "image", b"WAVE": "audio", b"AVI ": "video"}.get(head[8:12])
    if head.startswith((b"ID3", b"fLaC", b"OggS")) or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio"
    if head[4:8] == b"ftyp":  # ISO media: M4A is audio, the rest (mp4, mov, avif, heic) by brand
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio"
        return "image" if brand in (b"avif", b"heic", b"heix", b"mif1") else "video"
    if head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"\x30\x26\xb2\x75")):  # Matroska/WebM, FLV, ASF (wmv)
        return "video"
    return None


@dataclass(frozen=True)
class MediaSource:
    """One document's media: a local file or a URL, and its kind ("image", "pdf", "audio", "video")."""

    document_id: str
    kind: str
    path: Path | None = None
    url: str | None = None
    mime_type: str | None = None

    @property
    def input_field(self) -> str:
        return INPUT_FIELDS[self.kind]

    def describe(self) -> str:
        where = f"URL '{self.url}'" if self.url is not None else f"path '{self.path}'"
        return f"document {self.document_id} ({where})"


def media_error(document_id: str, path: Any, problem: str) -> JinaInputError:
    who = f"the media of document {document_id}" if document_id else "the media input"
    return JinaInputError(f"Cannot embed {who} (path '{shown_path(path)}'): {problem}")


def resolve_media(
    document_id: str,
    meta: dict[str, Any],
    *,
    file_path_meta_field: str,
    root_path: str | None,
    max_file_bytes: int = MAX_MEDIA_FILE_BYTES,
) -> MediaSource | None:
    """
    A document's media file or URL, checked without reading it; `None` when its meta names none.

    :raises JinaInputError: Naming the document and path: the path escapes `root_path` or is not a
        usable path, the file is missing, empty or over `max_file_bytes`, or its type is not supported.
    """
    raw_path = meta.get(file_path_meta_field)
    if raw_path is None or raw_path == "":
        return None
    mime_type = meta.get("mime_type") if isinstance(meta.get("mime_type"), str) else None
    if isinstance(raw_path, str) and raw_path[:8].lower().startswith(("http://", "https://")):
        url = raw_path.strip()
        kind = kind_of_mime_type(mime_type) if mime_type else kind_of_name(urlsplit(url).path)
        if kind is None:
            problem = f"the URL does not tell its type (set meta['mime_type']); supported: {supported_types()}"
            raise media_error(document_id, url, problem)
        return MediaSource(document_id, kind, url=url, mime_type=mime_type)
    if not isinstance(raw_path, str | Path) or "\x00" in str(raw_path):
        raise media_error(document_id, raw_path, f"meta['{file_path_meta_field}'] is not a usable path")
    located, size = locate_file(raw_path, root_path)
    if isinstance(located, str):
        raise media_error(document_id, raw_path, located)
    if size == 0:
        raise media_error(document_id, located, "the file is empty")
    kind = (
        kind_of_mime_type(mime_type)
        if mime_type
        else kind_of_name(located.name) or kind_of_mime_type(mimetypes.guess_type(located.name)[0] or "")
    )
    if kind is None and not mime_type:
        kind = _sniff_file(located)
    if kind is None:
        shown = f"type {mime_type!r}" if mime_type else "an unknown type"
        raise media_error(document_id, located, f"{shown} is not supported; supported: {supported_types()}")
    mime_type = mime_type or mimetypes.guess_type(located.name)[0]
    limit, cap = max_file_bytes, "the cap for audio, video and PDF (MAX_MEDIA_FILE_BYTES)"
    if kind == "image" and mime_type in IMAGE_MIME_TYPES:  # decoded and shrunk to fit 8 MB, as images.py does
        limit, cap = MAX_IMAGE_FILE_BYTES, "the limit for image files"
    elif kind == "image":  # sent as it is: the API's 8 MB of base64 per image
        limit, cap = MAX_IMAGE_BASE64_CHARS * 3 // 4, "the API's 8 MB of base64 per image (sent unconverted)"
    if size > limit:
        mb = 1024 * 1024
        problem = f"the {kind} file has {size / mb:.1f} MB, over {cap} of {limit / mb:.0f} MB; refused unread"
        raise media_error(document_id, located, problem)
    return MediaSource(document_id, kind, path=located, mime_type=mime_type)


def media_input(source: MediaSource, prepared: str | bytes) -> dict[str, str | bytes]:
    """The request input: `{"image" | "pdf" | "audio" | "video": url-or-base64}`."""
    return {source.input_field: prepared}


def _sniff_file(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return sniff_kind(handle.read(16))
    except OSError:
        return None


def media_base64(source: MediaSource, *, max_file_bytes: int = MAX_MEDIA_FILE_BYTES) -> str | bytes:
    """
    What goes into the source's request field: its URL, or its file as base64 (ASCII bytes, spliced into
    the body without a copy by `encode_json`). Images Pillow reads are prepared as `images.py` does (at most
    8 MB); others are read as they are.

    :raises JinaInputError: Naming the document and path, if the file cannot be read, changed since it was
        checked (now empty or over the cap), or is an image that cannot be brought under 8 MB.
    """
    if source.url is not None:
        return source.url
    assert source.path is not None
    mime_type = source.mime_type or mimetypes.guess_type(source.path.name)[0]
    if source.kind == "image" and mime_type in IMAGE_MIME_TYPES:
        return image_base64(ImageSource(source.document_id, source.path, mime_type)).encode("ascii")
    limit = MAX_IMAGE_BASE64_CHARS * 3 // 4 if source.kind == "image" else max_file_bytes
    try:
        data = read_limited(source.path, limit)
    except (OSError, ValueError) as error:
        problem = f"cannot read the file ({getattr(error, 'strerror', None) or error})"
        raise media_error(source.document_id, source.path, problem) from None
    if not data:
        raise media_error(source.document_id, source.path, "the file is empty")
    return base64.b64encode(data)
