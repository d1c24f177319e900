"""The emulator's file conversion: `POST /r/` with the document in the body (like `POST https://r.jina.ai/`).

The body is JSON or multipart/form-data (the reference: both take the same path on the service), with
`html` (a string), or `pdf` / `file` (base64 in JSON, a file part in multipart), and an optional `url`
that names the source; `url#N` with a PDF selects page N. A body with only `url` reads that URL, as GET does.

What the emulator converts, and what it refuses (it may be stricter than the service, never looser):
- HTML: with the read endpoint's HTML-to-markdown (selectors, formats and summaries apply);
- plain text, markdown, JSON, XML: as text;
- PDF: real text extraction, page by page, with `pypdfium2`; `numPages` and the PDF's title (or its
  first line) come back with it;
- Word, Excel, PowerPoint (doc/docx, xls/xlsx, ppt/pptx) and images: a 422 saying that the emulator does
  not convert them (the hosted Reader does). Use PDF, HTML or text in tests;
- the service's limits: HTML and text up to 32 MB, bodies up to 100 MB (413 above);
- `X-Markdown-Chunking`: `data.chunks`, the content split before each markdown heading;
- `DNT: 1`: the emulator caches nothing anyway; the header is recorded like all others.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import html
import itertools
import re
from typing import Any
from urllib.parse import urlsplit

from haystack_integrations.testing.jina.reader_common import (
    TEXT_CONTENT_TYPE,
    envelope,
    flag,
    return_format,
    wants_json,
)
from haystack_integrations.testing.jina.routes_reader import Page, page_as_text, read_url, render
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

MB = 1_000_000
MAX_TEXT_BYTES = 32 * MB  # "HTML, plain text and JSON (up to 32 MB)"
MAX_BODY_BYTES = 100 * MB  # "request bodies up to about 100 MB"
DOCUMENT_FIELDS = ("html", "pdf", "file")
TEXT_EXTENSIONS = (".txt", ".md", ".markdown", ".csv", ".json", ".xml")
OFFICE_EXTENSIONS = (".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx")
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")
HEADING = re.compile(r"^#{1,6} ", re.M)


@route("POST", "/r/")
def convert(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    if request.path.split("?", 1)[0] != "/r/":
        raise ApiError(404, "POST a document to the reader's root, /r/, with the document in the body.")
    if len(request.body) > MAX_BODY_BYTES:
        raise ApiError(413, f"Request body of {len(request.body)} bytes is over the Reader's {MAX_BODY_BYTES} bytes.")
    fields = _fields(request)
    url = fields.get("url", (None, None))[0]
    if url is not None and not isinstance(url, str):
        raise ApiError(422, "url must be a string.", field="url")
    given = [name for name in DOCUMENT_FIELDS if name in fields]
    if len(given) > 1:
        raise ApiError(422, f"Send one document per request, got {', '.join(given)}.", field=given[1])
    if not given:
        if not url:
            raise ApiError(422, "No document: send html, pdf or file (or a url to read).")
        data = read_url(url, request, emulator)
    else:
        value, filename = fields[given[0]]
        data = _convert(given[0], value, filename, url or "", request, emulator)
    if flag(request, "X-Markdown-Chunking") and isinstance(data.get("content"), str):
        data["chunks"] = chunks(data["content"])
    if wants_json(request):
        return Reply(body=envelope(data))
    return Reply(body=page_as_text(data), content_type=TEXT_CONTENT_TYPE)


def _fields(request: RecordedRequest) -> dict[str, tuple[Any, str | None]]:
    """The body's fields as `{name: (value, file name)}`: JSON strings, or multipart parts (bytes for files)."""
    content_type = (request.header("Content-Type") or "").lower()
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {request.header('Content-Type')}\r\n\r\n".encode("latin-1")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        if not message.is_multipart():
            raise ApiError(400, "The multipart body could not be parsed (check its boundary).")
        fields: dict[str, tuple[Any, str | None]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                raise ApiError(422, "A multipart part has no name in its Content-Disposition.")
            filename = part.get_filename()
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            fields[name] = (raw, filename) if filename or name in ("pdf", "file") else (raw.decode("utf-8"), None)
        return fields
    body = json_body(request)
    return {name: (value, None) for name, value in body.items()}


def _convert(
    field: str, value: Any, filename: str | None, url: str, request: RecordedRequest, emulator: JinaEmulator
) -> dict[str, Any]:
    if field == "html":
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        if not isinstance(text, str):
            raise ApiError(422, "html must be a string (the page's HTML).", field="html")
        _check_text_size(len(text.encode("utf-8")))
        return render(Page(200, "text/html", text), url, request, emulator)
    data = _decoded(field, value)
    name = (filename or "").lower()
    if field == "pdf" or data.startswith(b"%PDF-") or name.endswith(".pdf"):
        return _pdf(data, url, request, emulator)
    if name.endswith(OFFICE_EXTENSIONS) or data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ApiError(
            422,
            "The JinaEmulator does not convert Word, Excel or PowerPoint files (the hosted Reader does); "
            "use PDF, HTML or text files in tests.",
            field=field,
        )
    if data.startswith(IMAGE_MAGIC):
        raise ApiError(422, "The JinaEmulator does not caption images (the hosted Reader does).", field=field)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "The file is neither PDF, HTML nor UTF-8 text; the emulator cannot convert it.") from None
    _check_text_size(len(data))
    start = text.lstrip("\ufeff \t\r\n").lower()
    is_html = name.endswith((".html", ".htm")) or start.startswith(("<!doctype html", "<html"))
    return render(Page(200, "text/html" if is_html else "text/plain", text), url, request, emulator)


def _decoded(field: str, value: Any) -> bytes:
    if isinstance(value, bytes):  # a multipart file part
        return value
    if not isinstance(value, str) or not value:
        raise ApiError(422, f"{field} must be the file as base64 (or a multipart file part).", field=field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{field} is not valid base64.", field=field) from None


def _check_text_size(size: int) -> None:
    if size > MAX_TEXT_BYTES:
        raise ApiError(413, f"HTML and text documents are limited to {MAX_TEXT_BYTES} bytes, got {size}.")


def _pdf(data: bytes, url: str, request: RecordedRequest, emulator: JinaEmulator) -> dict[str, Any]:
    """Text per page with pypdfium2; `url#N` keeps page N only."""
    import pypdfium2

    from haystack_integrations.common.jina.images import pdfium_lock

    fmt = return_format(request, images=False)
    with pdfium_lock():  # PDFium is not thread-safe, and the emulator answers requests on many threads
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            raise ApiError(422, f"The PDF cannot be opened: {error}", field="pdf") from None
        try:
            count = len(document)
            wanted = range(count)
            fragment = urlsplit(url).fragment if url else ""
            if fragment.isdigit():
                if not 1 <= int(fragment) <= count:
                    raise ApiError(422, f"Page {fragment} asked for, but the PDF has {count} pages.", field="url")
                wanted = range(int(fragment) - 1, int(fragment))
            pages = []
            for index in wanted:
                page = document[index]
                textpage = page.get_textpage()
                pages.append(textpage.get_text_range().replace("\r\n", "\n").strip())
                textpage.close()
                page.close()
            title = str(document.get_metadata_dict().get("Title") or "").strip()
        finally:
            document.close()
    text = "\n\n".join(page for page in pages if page)
    data_out = render(Page(200, "text/plain", text), url, request, emulator)
    data_out["title"] = title or next((line.strip() for line in text.splitlines() if line.strip()), "")
    data_out["numPages"] = count
    if fmt == "html":
        data_out["html"] = "".join(f"<section><pre>{html.escape(page, quote=False)}</pre></section>" for page in pages)
    return data_out


def chunks(content: str) -> list[str]:
    """The content split before each markdown heading (text before the first heading is a chunk of its own)."""
    starts = [match.start() for match in HEADING.finditer(content)]
    bounds = [0, *[s for s in starts if s > 0], len(content)]
    return [content[a:b].strip() for a, b in itertools.pairwise(bounds) if content[a:b].strip()]
