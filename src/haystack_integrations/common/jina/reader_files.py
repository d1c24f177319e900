"""Local files for the Reader's `POST https://r.jina.ai/`: what a source is, whether the Reader takes it, the body.

Facts from Jina's reference (the Reader notes, from the service's source and issue tracker):
- the body carries the document as `html` (a string), or `pdf` / `file` (base64, or a multipart part);
  an optional `url` names the source (the base for relative links);
- accepted: HTML, plain text and JSON (up to 32 MB), PDF, doc/docx, xls/xlsx, ppt/pptx, images
  (captioned), XML; request bodies up to about 100 MB.

Assumptions where the reference is silent (stated here, listed in the issue's report):
- "MB" is read as 10**6 bytes (the smaller reading, so a file we pass is never over the real limit);
- XML, plain text and JSON travel as `file` (base64) like the binary types: only `html` is named as a
  string field, and the service sniffs the bytes of `file`;
- the body is sent as JSON with base64, not multipart: both take the same path on the server, and the
  JSON body streams from a list of pieces (`JsonBody`), one base64 piece per block of the file, so a
  file is never held as raw bytes, base64 and a joined body at once.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haystack.dataclasses import ByteStream

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.http.body import JsonBody

MB = 1_000_000
#: HTML, plain text and JSON: "up to 32 MB" (the reference).
MAX_TEXT_BYTES = 32 * MB
#: Request bodies "up to about 100 MB" (the reference); base64 makes 4 bytes of every 3, and the JSON
#: around the file (field names, `url`) takes well under the 64 KB kept free here.
MAX_BODY_BYTES = 100 * MB
MAX_FILE_BYTES = (MAX_BODY_BYTES - 64 * 1024) // 4 * 3
#: Files are read and base64-encoded in blocks of this size (a multiple of 3: the pieces join into valid base64).
BLOCK_BYTES = 3 * 1024 * 1024
SNIFF_BYTES = 2048

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: Text types the Reader takes (the 32 MB limit applies to them and to HTML).
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json", "application/xml", "text/xml"})
PDF_TYPE = "application/pdf"
OFFICE_TYPES = frozenset(
    {
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
ACCEPTED_TYPES = HTML_TYPES | TEXT_TYPES | {PDF_TYPE} | OFFICE_TYPES | IMAGE_TYPES
#: Extensions `mimetypes` may not know on every platform.
EXTRA_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".webp": "image/webp", ".json": "application/json"}
#: Leading bytes that name a type for sure (a ZIP could be any OOXML file or none: not sniffed).
MAGIC = (
    (b"%PDF-", PDF_TYPE),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass
class FileSource:
    """One source, checked: where its bytes are, what it is, and how big. The bytes are read only when sent."""

    position: int
    name: str  # how messages name it: the path, or the ByteStream's file_path, or "ByteStream <n>"
    mime_type: str
    size: int
    path: Path | None = None
    stream: ByteStream | None = None

    @property
    def field(self) -> str:
        """The body field that carries the file."""
        if self.mime_type in HTML_TYPES:
            return "html"
        return "pdf" if self.mime_type == PDF_TYPE else "file"


def check_source(position: int, source: Any) -> FileSource:
    """
    `source` (a path or a ByteStream) checked before anything is sent: it exists, the Reader takes its
    type, and it is within the Reader's size limit. Only the first bytes of a file are read (to sniff its type).

    :raises JinaInputError: Naming the source, for a missing file, a path that is not a regular file (a
        directory, a FIFO, a device) or a virtual one (`/proc`), an empty file, a type the Reader does not
        take, or a size over the limit.
    """
    if isinstance(source, ByteStream):
        file_path = source.meta.get("file_path")
        name = str(file_path) if file_path else f"ByteStream {position}"
        mime = _normalized(source.mime_type) or _by_name(file_path) or _sniff(source.data[:SNIFF_BYTES])
        checked = FileSource(position, name, mime or "", len(source.data), stream=source)
    elif isinstance(source, str | Path):
        path = Path(source)
        name = str(source)
        try:
            kind, size = _file_kind(path)
            if kind:  # checked before opening: opening a FIFO would block until a writer came
                msg = f"Source {position} ({name}) is {kind}, not a regular file; not sent"
                raise JinaInputError(msg)
            mime = _by_name(name)
            if mime is None or size == 0:
                with path.open("rb") as file:
                    head = file.read(SNIFF_BYTES)
                mime = mime or _sniff(head)
                if size == 0 and head:
                    msg = (
                        f"Source {position} ({name}) is a virtual file (its size reads 0 but it has content, as "
                        "files in /proc or /sys): its size cannot be checked before sending; copy it to a regular "
                        "file or pass its bytes as a ByteStream"
                    )
                    raise JinaInputError(msg)
        except OSError as error:
            reason = "no such file" if isinstance(error, FileNotFoundError) else f"{type(error).__name__}: {error}"
            msg = f"Source {position} ({name}) cannot be read: {reason}"
            raise JinaInputError(msg) from None
        checked = FileSource(position, name, mime or "", size, path=path)
    else:
        msg = f"Source {position} must be a file path (str or Path) or a ByteStream, got {type(source).__name__}"
        raise JinaInputError(msg)
    if checked.size == 0:  # the Reader would answer an error that names no file, or convert nothing
        msg = f"Source {position} ({checked.name}) is empty (0 bytes); not sent"
        raise JinaInputError(msg)
    if checked.mime_type not in ACCEPTED_TYPES:
        what = f"of type {checked.mime_type}" if checked.mime_type else "of an unknown type"
        msg = (
            f"Source {position} ({checked.name}) is {what}, which the Jina Reader does not convert. It takes "
            "HTML, plain text, JSON, XML, PDF, Word, Excel, PowerPoint and images; set the ByteStream's "
            "mime_type if the file name does not say it."
        )
        raise JinaInputError(msg)
    limit = MAX_TEXT_BYTES if checked.field == "html" or checked.mime_type in TEXT_TYPES else MAX_FILE_BYTES
    if checked.size > limit:
        msg = (
            f"Source {position} ({checked.name}) has {checked.size:,} bytes, over the Jina Reader's limit of "
            f"{limit:,} bytes for {checked.mime_type}"
        )
        raise JinaInputError(msg)
    return checked


#: What a path that is not a regular file is, in messages (`stat`'s file types).
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _file_kind(path: Path) -> tuple[str, int]:
    """
    What `path` is when it is not a regular file ("" when it is), and its size, from `stat` alone.

    :raises OSError: If it cannot be found or stat'ed.
    """
    info = path.stat()
    if stat.S_ISREG(info.st_mode):
        return "", info.st_size
    kind = next((kind for test, kind in _FILE_KINDS if test(info.st_mode)), "a special file")
    return kind, info.st_size


def request_body(source: FileSource, url: str | None) -> JsonBody:
    """
    The JSON body for one source, read now (call it just before sending, so only files in flight are in memory).

    HTML is sent as the `html` string; everything else as base64 in `pdf` or `file`, one piece per block.
    """
    others = {"url": url} if url else {}
    if source.field == "html":
        text = _decode(b"".join(_blocks(source)), source)
        return JsonBody([json.dumps({"html": text, **others}).encode("utf-8")])
    head = json.dumps(others)[:-1] + (", " if others else "") + f'"{source.field}": "'
    pieces = [head.encode("utf-8")]
    pieces += [base64.b64encode(block) for block in _blocks(source)]
    pieces.append(b'"}')
    return JsonBody(pieces)


def _blocks(source: FileSource) -> Iterator[bytes | memoryview]:
    """The source's bytes in blocks of `BLOCK_BYTES`; a file that grew past its checked size is refused."""
    if source.stream is not None:
        data = memoryview(source.stream.data)
        for start in range(0, len(data), BLOCK_BYTES):
            yield data[start : start + BLOCK_BYTES]
        return
    assert source.path is not None
    read = 0
    with source.path.open("rb") as file:
        while block := file.read(BLOCK_BYTES):
            read += len(block)
            if read > source.size:
                msg = f"Source {source.position} ({source.name}) grew while it was being read; not sent"
                raise JinaInputError(msg)
            yield block


def _decode(data: bytes, source: FileSource) -> str:
    charset = source.stream.meta.get("encoding") if source.stream is not None else None
    try:
        return data.decode(str(charset or "utf-8"), errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _normalized(mime_type: str | None) -> str | None:
    return mime_type.split(";", 1)[0].strip().lower() or None if mime_type else None


def _by_name(name: Any) -> str | None:
    if not name:
        return None
    extension = os.path.splitext(str(name))[1].lower()
    return EXTRA_TYPES.get(extension) or _normalized(mimetypes.guess_type(f"x{extension}")[0])


def _sniff(head: bytes) -> str | None:
    """The type the first bytes say for sure: magic numbers, an HTML or XML start, else UTF-8 text."""
    for magic, mime in MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if start.startswith(b"<?xml"):
        return "application/xml"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut at the end of the sample
            return None
    return "text/plain" if head and b"\x00" not in head else None
