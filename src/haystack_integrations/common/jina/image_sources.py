"""
Where a document's image comes from, checked without decoding anything: a file inside `root_path` (an image,
or a page of a PDF) or an http(s) URL sent as it is. `images.py` prepares them (decoding, shrinking, base64).

Every problem raises `JinaInputError` naming the document id and the path.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from haystack_integrations.common.jina.errors import JinaInputError

#: MIME types of the image files we read, and the Pillow formats we let decode them.
IMAGE_MIME_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/x-ms-bmp", "image/tiff"}
)


PDF_MIME_TYPE = "application/pdf"


#: Image and PDF files larger than this are refused before they are read (their size is checked on disk).
MAX_IMAGE_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class ImageSource:
    """Where one document's image comes from: a file, and for a PDF the page (1-based)."""

    document_id: str
    path: Path
    mime_type: str
    page_number: int | None = None

    @property
    def is_pdf(self) -> bool:
        return self.mime_type == PDF_MIME_TYPE

    def describe(self) -> str:
        page = f", page {self.page_number}" if self.page_number is not None else ""
        return f"document {self.document_id} (path '{self.path}'{page})"


@dataclass(frozen=True)
class ImageURL:
    """
    A document whose image meta field holds an `http(s)` URL: sent as it is, for Jina to fetch.

    A PDF's URL goes as the spec's `PDFDoc` (`{"pdf": url}`), which every image model of the catalogue
    takes (jina-clip-v1, jina-clip-v2, jina-embeddings-v4); an image's as `ImageDoc` (`{"image": url}`).
    """

    document_id: str
    url: str
    is_pdf: bool = False

    @property
    def input_field(self) -> str:
        return "pdf" if self.is_pdf else "image"

    def describe(self) -> str:
        return f"document {self.document_id} (URL '{self.url}')"


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def shown_path(path: Any) -> str:
    """A path for an error message: NUL bytes visible, and shortened (a path over the OS's limit can be megabytes)."""
    shown = str(path).replace("\x00", "\\x00")
    return f"{shown[:100]}...{shown[-60:]}" if len(shown) > 200 else shown


def input_error(document_id: str, path: Any, problem: str) -> JinaInputError:
    return JinaInputError(f"Cannot use the image of document {document_id} (path '{shown_path(path)}'): {problem}")


def resolve_image_source(
    document_id: str,
    meta: dict[str, Any],
    *,
    file_path_meta_field: str,
    root_path: str | None,
    max_file_bytes: int = MAX_IMAGE_FILE_BYTES,
) -> ImageSource | ImageURL:
    """
    Find a document's image file without reading it, or take its `http(s)` URL as it is.

    :param document_id: The document's id, for error messages.
    :param meta: The document's meta: the path is in `meta[file_path_meta_field]`, a PDF page in
        `meta["page_number"]` (1-based), an explicit type may be in `meta["mime_type"]`.
    :param file_path_meta_field: The meta key holding the path.
    :param root_path: If set, relative paths are resolved against it and the resolved path (symlinks
        followed) must stay inside it: `../` tricks and absolute paths elsewhere are refused.
    :param max_file_bytes: Files larger than this are refused without being read.
    :raises JinaInputError: The meta field is missing, the path escapes the root or is not a usable path
        (a NUL byte, too long), the file does not exist or is too large, its type is not supported, or a
        PDF document has no valid `page_number`.
    """
    raw_path = meta.get(file_path_meta_field)
    if raw_path is None or raw_path == "":
        msg = (
            f"Cannot use the image of document {document_id}: its meta has no '{file_path_meta_field}' "
            f"(file_path_meta_field) with the path of an image or PDF file."
        )
        raise JinaInputError(msg)
    if _is_url(raw_path):  # Jina fetches it; `root_path` is about local files
        return _url_source(document_id, raw_path.strip(), meta)
    if not isinstance(raw_path, str | Path):
        raise input_error(document_id, raw_path, f"meta['{file_path_meta_field}'] is not a path")
    if "\x00" in str(raw_path):
        raise input_error(document_id, raw_path, "the path contains a NUL byte")
    located, size = locate_file(raw_path, root_path)
    if isinstance(located, str):
        raise input_error(document_id, raw_path, located)
    path = located
    if size > max_file_bytes:
        mb = 1024 * 1024
        problem = f"the file has {size / mb:.1f} MB, over the limit of {max_file_bytes / mb:.0f} MB; refused unread"
        raise input_error(document_id, path, problem)

    mime_type = meta.get("mime_type") or mimetypes.guess_type(path.name)[0] or _sniff_mime_type(path)
    if mime_type == "image/jpg":
        mime_type = "image/jpeg"
    if mime_type != PDF_MIME_TYPE and mime_type not in IMAGE_MIME_TYPES:
        supported = "JPEG, PNG, WebP, GIF, BMP, TIFF and PDF pages"
        raise input_error(document_id, path, f"unsupported file type {mime_type!r}; supported: {supported}")
    if mime_type != PDF_MIME_TYPE:
        return ImageSource(document_id, path, mime_type)

    page = meta.get("page_number")
    if page is None:
        raise input_error(document_id, path, "it is a PDF and its meta has no 'page_number' (1-based) to embed")
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise input_error(document_id, path, f"meta['page_number'] must be an integer >= 1, got {page!r}")
    return ImageSource(document_id, path, mime_type, page)


def resolve_image_doc(
    document_id: str, meta: dict[str, Any], *, file_path_meta_field: str, root_path: str | None, use: str
) -> ImageSource | ImageURL:
    """
    `resolve_image_source` for the endpoints whose schemas take images only (`ImageDoc`, no `PDFDoc`).

    Those are rerank (`RerankerM0Request`), classify and train: a PDF given by URL is refused, since only
    a local PDF can be rendered page by page into images.

    :param use: What the image is for, in the error ("rank", "classify", ...).
    :raises JinaInputError: As `resolve_image_source` does, and for a PDF given by URL.
    """
    source = resolve_image_source(document_id, meta, file_path_meta_field=file_path_meta_field, root_path=root_path)
    if isinstance(source, ImageURL) and source.is_pdf:
        msg = (
            f"Cannot {use} the image of document {document_id} (URL '{source.url}'): it is a PDF, and this API "
            "takes images only. Download the file and give its path with meta['page_number']: local PDF pages "
            "are rendered as images"
        )
        raise JinaInputError(msg)
    return source


def _url_source(document_id: str, url: str, meta: dict[str, Any]) -> ImageURL:
    """A URL to send; a PDF's whole (`PDFDoc`), since the API has no way to select one of its pages."""
    mime_type = meta.get("mime_type") or mimetypes.guess_type(urlsplit(url).path)[0]
    page = meta.get("page_number")
    # a page number marks a PDF unless the URL says it is an image (a page rendered and hosted, say)
    is_pdf = mime_type == PDF_MIME_TYPE or (page is not None and mime_type not in IMAGE_MIME_TYPES)
    if is_pdf and page is not None:
        problem = (
            f"page {page!r} of a PDF given by URL cannot be selected: the API embeds a PDF URL as a whole. "
            "Download the file and give its local path: local PDFs are rendered page by page"
        )
        raise input_error(document_id, url, problem)
    return ImageURL(document_id, url, is_pdf=is_pdf)


def locate_file(raw_path: str | Path, root_path: str | None) -> tuple[Path | str, int]:
    """The file's path and size, or a problem (a string) instead of the path, never an `OSError`."""
    try:
        return _locate_file(raw_path, root_path)
    except OSError as error:  # a name over the OS's length limit, a permission problem, ...
        return f"cannot access the file: {error.strerror or type(error).__name__}", 0


def _locate_file(raw_path: str | Path, root_path: str | None) -> tuple[Path | str, int]:
    path = Path(root_path, raw_path) if root_path else Path(raw_path)
    if root_path:
        root = Path(root_path).resolve()
        path = path.resolve()
        if not path.is_relative_to(root):
            return f"the path escapes root_path '{root_path}', refused", 0
    if not path.is_file():
        return ("no such file" if not path.exists() else "not a regular file"), 0
    return path, path.stat().st_size


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing one that grew over `limit` since it was checked."""
    with path.open("rb") as handle:
        # asked for the file's size, not the limit: `read(n)` allocates n bytes first (50 MB per image)
        expected = min(os.fstat(handle.fileno()).st_size, limit)
        data = handle.read(expected + 1)
        if len(data) > expected:  # it grew since: read on, up to the limit
            data += handle.read(limit + 1 - len(data))
    if len(data) > limit:
        msg = f"the file grew over the limit of {limit} bytes while being read"
        raise ValueError(msg)
    return data


def _sniff_mime_type(path: Path) -> str | None:
    """The type of a file without a telling extension, from its first bytes (PDF or an image format)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if head.startswith(b"%PDF-"):
        return PDF_MIME_TYPE
    signatures = {
        b"\xff\xd8\xff": "image/jpeg",
        b"\x89PNG\r\n\x1a\n": "image/png",
        b"GIF8": "image/gif",
        b"BM": "image/bmp",
        b"II*\x00": "image/tiff",
        b"MM\x00*": "image/tiff",
    }
    for signature, mime_type in signatures.items():
        if head.startswith(signature):
            return mime_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image_size(value: Any) -> tuple[int, int] | None:
    """Validate an `image_size` parameter; a list (as YAML or JSON give back) becomes a tuple."""
    if value is None:
        return None
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        msg = f"image_size must be None or a (width, height) pair of positive integers, got {value!r}"
        raise ValueError(msg)
    return int(value[0]), int(value[1])
