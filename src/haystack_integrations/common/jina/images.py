"""Images and PDF pages from document meta, prepared for the multimodal embeddings endpoint.

Two steps, so a component can check every document cheaply up front and do the heavy work lazily:

- `resolve_image_source` (no decoding): the file path from meta, resolved against `root_path` and kept
  inside it, the file's kind (image or PDF) and, for a PDF, the 1-based `page_number`.
- `image_base64` (decoding): one image or PDF page, EXIF-rotated, converted to a mode the API takes,
  shrunk to fit `image_size` and encoded as plain base64 — JPEG when the image is opaque, PNG when its
  alpha channel carries something. Jina's `ImageDoc` is "a URL or base64-encoded string" and Jina's own
  clients send plain base64, so no `data:` prefix. No image exceeds the API's 8 MB per image: a larger
  one is re-encoded, then shrunk, until it fits.

A meta field holding an `http(s)` URL gives an `ImageURL`: the URL is sent as it is, for Jina to fetch;
nothing is downloaded here.

Speed: a JPEG that only needs a smaller size is decoded at 1/2, 1/4 or 1/8 scale by libjpeg (Pillow's
`draft`), a PDF page is rendered directly at the scale that fits `image_size`, and an image that needs no
change at all (a JPEG, PNG or WebP that already fits, upright, in an ordinary mode) is sent as its original
bytes after it was proven readable: a JPEG by walking its markers (`jpeg_structure`, 1/10 to 1/70 of the
CPU of decoding it), other formats by decoding it once. Every function is thread-safe; PDFium is not, so
PDF rendering holds a process-wide lock while Pillow's work (which releases the GIL) runs in parallel.

Memory: images are decoded on a process-wide pool with one thread per core, so at most that many decoded
images exist at once, however many requests are in flight (a 300 dpi page is 25 MB decoded); what waits
for its request is only the encoded base64 text.

Every problem raises `JinaInputError` naming the document id and the path.
"""

from __future__ import annotations

import base64
import io
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar, cast

from PIL import Image, ImageOps, UnidentifiedImageError

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.image_sources import (
    IMAGE_MIME_TYPES,
    MAX_IMAGE_FILE_BYTES,
    PDF_MIME_TYPE,
    ImageSource,
    ImageURL,
    check_image_size,
    input_error,
    read_limited,
    resolve_image_doc,
    resolve_image_source,
)
from haystack_integrations.common.jina.jpeg_structure import jpeg_is_complete

PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF")  # JPEG also opens MPO
#: PDF pages are rendered at this resolution when no `image_size` asks for less (as Haystack's converters do).
PDF_DPI = 300.0
JPEG_QUALITY = 90
#: Jina's OpenAPI: "Images up to 8MB". Read strictly: the base64 text we send (4/3 of the image's bytes)
#: stays within 8,000,000 characters, so the image is under 8 MB whether MB means 10^6 or 2^20 bytes and
#: whether the limit counts the image or its encoding.
MAX_IMAGE_BASE64_CHARS = 8_000_000
#: An image shrunk below this many pixels on its shorter side is no longer worth sending.
MIN_SHRUNK_SIDE = 16
#: Formats sent unchanged when nothing needs doing, with the modes the API reads without trouble.
_PASSTHROUGH = {"JPEG": ("L", "RGB"), "MPO": ("L", "RGB"), "PNG": ("L", "RGB", "RGBA"), "WEBP": ("RGB", "RGBA")}
_EXIF_ORIENTATION = 0x0112
_PDFIUM_LOCK = threading.Lock()  # PDFium must not be entered from two threads at once


def pdfium_lock() -> threading.Lock:
    """The one lock around every use of pypdfium2 in the process (PDFium is not thread-safe: two threads in it
    corrupt its heap). The emulator takes it too: it may run in the same process as the components."""
    return _PDFIUM_LOCK


#: Images are decoded and encoded on a small process-wide pool, one thread per core: the work is CPU bound,
#: so more threads buy no speed, and few threads keep few decoded images (and few malloc arenas holding
#: their freed memory) alive, however many requests are in flight.
_DECODE_THREADS = max(2, os.cpu_count() or 2)
_decode_pool: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked child makes its own
_decode_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()
    with _decode_pool_lock:
        if pid not in _decode_pool:
            _decode_pool.clear()  # the parent's threads do not exist in a forked child
            _decode_pool[pid] = ThreadPoolExecutor(max_workers=_DECODE_THREADS, thread_name_prefix="jina-image")
        return _decode_pool[pid]


@fork.on_fork_in_child
def _forget_decode_pool() -> None:
    """A forked child has none of the pool's threads, and a lock a parent thread held would never be released."""
    global _decode_pool_lock, _PDFIUM_LOCK  # noqa: PLW0603
    _decode_pool.clear()
    _decode_pool_lock = threading.Lock()
    _PDFIUM_LOCK = threading.Lock()


def image_base64(
    source: ImageSource | ImageURL,
    image_size: tuple[int, int] | None = None,
    *,
    max_chars: int = MAX_IMAGE_BASE64_CHARS,
) -> str:
    """
    Load one image or PDF page and return what goes into `{"image": ...}`: plain base64 (or the URL).

    :param source: From `resolve_image_source`.
    :param image_size: A `(width, height)` box the image is shrunk to fit, keeping its aspect ratio
        (never enlarged). `None` keeps the size (PDF pages are rendered at 300 dpi), unless the image
        is over the API's 8 MB limit.
    :param max_chars: The most base64 characters one image may take (the API's limit).
    :raises JinaInputError: The file cannot be read or decoded, is over Pillow's decompression-bomb
        limit (`PIL.Image.MAX_IMAGE_PIXELS`), the page is out of range, or the image cannot be
        brought under `max_chars`.
    """
    prepared = submit_image_base64(source, image_size, max_chars=max_chars).result()
    return prepared if isinstance(prepared, str) else prepared.decode("ascii")


def submit_image_base64(
    source: ImageSource | ImageURL,
    image_size: tuple[int, int] | None = None,
    *,
    max_chars: int = MAX_IMAGE_BASE64_CHARS,
) -> Future[str | bytes]:
    """
    `image_base64` started on the decode pool; the future's `result()` returns it or raises.

    The result is the URL (`str`) of an `ImageURL`, else the base64 text as ASCII `bytes`: one copy
    less than a `str`, and `encode_json` splices it into the request body as it is.
    """
    if isinstance(source, ImageURL):
        done: Future[str | bytes] = Future()
        done.set_result(source.url)
        return done
    return _pool().submit(_prepare, source, image_size, max_chars)


def image_input(source: ImageSource | ImageURL, prepared: str | bytes) -> dict[str, str | bytes]:
    """The request input of a prepared image: `{"image": ...}` (`ImageDoc`), or `{"pdf": url}` for a PDF's URL."""
    return {source.input_field if isinstance(source, ImageURL) else "image": prepared}


K = TypeVar("K")  # how a caller keys its images (a position, a document index)


@contextmanager
def images_in_flight(
    sources: Mapping[K, ImageSource | ImageURL], image_size: tuple[int, int] | None = None
) -> Iterator[Callable[[K], dict[str, str | bytes]]]:
    """
    Start preparing one request's images in parallel on the decode pool; yield `input_of(key)`.

    `input_of(key)` waits for that image and returns its request input (`image_input`), or raises its
    `JinaInputError`. Meant to run just before the request, so the images exist only while it is in flight.
    On leaving, the images not started yet are dropped (after a failure, or when some were not asked for).
    """
    futures = {key: submit_image_base64(source, image_size) for key, source in sources.items()}
    try:
        yield lambda key: image_input(sources[key], futures[key].result())
    finally:
        for future in futures.values():  # a no-op for finished ones
            future.cancel()


def prepare_images(
    sources: Sequence[ImageSource | ImageURL], image_size: tuple[int, int] | None = None
) -> list[dict[str, str | bytes]]:
    """
    The request inputs of one request's images, prepared in parallel on the decode pool, in order.

    :raises JinaInputError: The first image that cannot be prepared; the ones not started yet are dropped.
    """
    with images_in_flight(dict(enumerate(sources)), image_size) as input_of:
        return [input_of(position) for position in range(len(sources))]


def _prepare(source: ImageSource, image_size: tuple[int, int] | None, max_chars: int) -> bytes:
    # Errors are raised after the `except` blocks, not inside them: an exception raised there would keep
    # the failed one as its context, and with it the frames holding the file's bytes (seen: +5 GB of RSS
    # for ten failed 500 MB files while their errors were kept).
    failure: JinaInputError | None = None
    try:
        load = _render_pdf_page if source.is_pdf else _load_image
        data = load(source, image_size)[1]
        if _base64_chars(len(data)) > max_chars:
            data = _shrink_to_fit(source, data, max_chars)
    except JinaInputError as error:
        failure = error.with_traceback(None)  # its traceback holds the loader's frames
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        failure = input_error(source.document_id, source.path, f"image too large: {error}")
    except MemoryError:
        failure = input_error(source.document_id, source.path, "not enough memory to decode the image")
    except UnidentifiedImageError:
        problem = "not a readable image (corrupt, or a format other than JPEG, PNG, WebP, GIF, BMP, TIFF)"
        failure = input_error(source.document_id, source.path, problem)
    except Exception as error:  # Pillow and PDFium raise OSError, ValueError, SyntaxError, EOFError, ...
        what = "PDF" if source.is_pdf else "image"
        problem = f"unreadable or corrupt {what}: {type(error).__name__}: {str(error)[:200]}"
        failure = input_error(source.document_id, source.path, problem)
    if failure is not None:
        failure.__context__ = None
        raise failure
    return base64.b64encode(data)


def _base64_chars(size: int) -> int:
    return 4 * math.ceil(size / 3)


def _shrink_to_fit(source: ImageSource, data: bytes, max_chars: int) -> bytes:
    """
    Re-encode an image that is over the limit (a large PNG sent unchanged, say), then shrink it until it fits.

    `data` is already upright and in a mode the API takes (what `_load_image` / `_render_pdf_page` made).
    """
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image = _normalize_mode(opened)
    del data
    limit = max_chars // 4 * 3  # bytes whose base64 fits
    original = image.size
    while True:
        encoded = _encode(image)[1]
        if len(encoded) <= limit:
            return encoded
        # bytes grow roughly with the pixels: aim a little under, at least 10 % smaller per round
        scale = min(0.9, 0.95 * math.sqrt(limit / len(encoded)))
        width, height = max(1, int(image.width * scale)), max(1, int(image.height * scale))
        if min(width, height) < MIN_SHRUNK_SIDE:
            tried = (
                f"even when shrunk from {original[0]}x{original[1]} to {image.width}x{image.height} pixels"
                if image.size != original
                else f"at {image.width}x{image.height} pixels, and fitting would need a side under "
                f"{MIN_SHRUNK_SIDE} pixels"
            )
            problem = f"the encoded image stays over the API's limit of {max_chars} base64 characters per image {tried}"
            raise input_error(source.document_id, source.path, problem)
        image = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def fit_size(size: tuple[int, int], box: tuple[int, int] | None) -> tuple[int, int] | None:
    """The size that fits `size` into `box` keeping the aspect ratio, or `None` if it already fits."""
    width, height = size
    if box is None or (width <= box[0] and height <= box[1]):
        return None
    scale = min(box[0] / width, box[1] / height)
    return max(1, min(box[0], round(width * scale))), max(1, min(box[1], round(height * scale)))


def _check_pixels(source: ImageSource, width: int, height: int) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        problem = (
            f"{width}x{height} = {width * height} pixels is over Pillow's decompression-bomb limit of "
            f"{limit} pixels (PIL.Image.MAX_IMAGE_PIXELS)"
        )
        raise input_error(source.document_id, source.path, problem)


def _load_image(source: ImageSource, box: tuple[int, int] | None) -> tuple[str, bytes]:
    data = read_limited(source.path, MAX_IMAGE_FILE_BYTES)
    with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS) as image:
        _check_pixels(source, *image.size)
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        rotated = orientation in (5, 6, 7, 8)  # the displayed image is the file's, turned by 90 degrees
        upright_size = (image.height, image.width) if rotated else image.size
        target = fit_size(upright_size, box)
        fmt = image.format or ""
        animated = getattr(image, "n_frames", 1) > 1 and fmt in ("PNG", "WEBP")
        if target is None and orientation == 1 and image.mode in _PASSTHROUGH.get(fmt, ()) and not animated:
            if fmt in ("JPEG", "MPO") and jpeg_is_complete(data):
                return "image/jpeg", data  # its markers prove it whole, at 1/10 to 1/70 of the cost of decoding it
            if fmt in ("JPEG", "MPO"):  # not sure: decoding at 1/8 scale proves the data intact (or raises)
                image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
            return ("image/jpeg" if fmt == "MPO" else Image.MIME[fmt]), data
        if target is not None and fmt in ("JPEG", "MPO"):
            wanted = (target[1], target[0]) if rotated else target
            image.draft(None, wanted)  # libjpeg decodes at the largest 1/n scale still >= wanted
        image.load()
        frame: Image.Image = ImageOps.exif_transpose(image) if orientation != 1 else image
        frame = _normalize_mode(frame)
        if target is not None and frame.size != target:
            frame = frame.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        return _encode(frame)


def _normalize_mode(image: Image.Image) -> Image.Image:
    """L, RGB or RGBA: palette, CMYK, YCbCr, LAB, 1-bit and 16/32-bit images are converted."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode in ("LA", "La", "RGBa"):
        return image.convert("RGBA")
    if mode.startswith("I") or mode == "F":  # 16/32-bit grey: stretch the used range onto 0..255
        grey = image.convert("F") if mode != "F" else image
        low, high = cast("tuple[float, float]", grey.getextrema())
        scale = 255.0 / (high - low) if high != low else 1.0
        return grey.point(lambda v: (v - low) * scale).convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _alpha_matters(image: Image.Image) -> bool:
    if image.mode != "RGBA":
        return False
    low, _ = cast("tuple[int, int]", image.getchannel("A").getextrema())
    return low < 255


def _encode(image: Image.Image) -> tuple[str, bytes]:
    """JPEG for opaque images; PNG where transparency would otherwise be lost."""
    buffer = io.BytesIO()
    if _alpha_matters(image):
        image.save(buffer, format="PNG", compress_level=3)
        return "image/png", buffer.getvalue()
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "image/jpeg", buffer.getvalue()


def _render_pdf_page(source: ImageSource, box: tuple[int, int] | None) -> tuple[str, bytes]:
    import pypdfium2

    page_number = source.page_number or 1
    with _PDFIUM_LOCK:
        try:
            pdf = pypdfium2.PdfDocument(str(source.path))
        except pypdfium2.PdfiumError as error:
            raise input_error(source.document_id, source.path, f"unreadable or corrupt PDF: {error}") from None
        try:
            pages = len(pdf)
            if page_number > pages:
                problem = f"page_number {page_number} is out of range: the PDF has {pages} page(s)"
                raise input_error(source.document_id, source.path, problem)
            page = pdf[page_number - 1]
            try:
                width, height = page.get_size()
                if width <= 0 or height <= 0:
                    raise input_error(source.document_id, source.path, f"page {page_number} has no area")
                scale = PDF_DPI / 72.0
                if box is not None:  # render directly at the size that fits, never above 300 dpi
                    scale = min(scale, box[0] / width, box[1] / height)
                limit = Image.MAX_IMAGE_PIXELS
                if limit is not None and width * height * scale * scale > 0.9 * limit:
                    scale = math.sqrt(0.9 * limit / (width * height))  # a huge page: as much as Pillow allows
                bitmap = page.render(scale=scale)
                try:
                    image = bitmap.to_pil()  # a copy (BGR -> RGB), independent of the bitmap's buffer
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            pdf.close()
    target = fit_size(image.size, box)  # rounding up by PDFium can overshoot the box by a pixel
    if target is not None:
        image = image.resize(target, Image.Resampling.LANCZOS)
    return _encode(_normalize_mode(image))


__all__ = [
    "IMAGE_MIME_TYPES",
    "MAX_IMAGE_BASE64_CHARS",
    "MAX_IMAGE_FILE_BYTES",
    "PDF_MIME_TYPE",
    "ImageSource",
    "ImageURL",
    "check_image_size",
    "fit_size",
    "image_base64",
    "image_input",
    "images_in_flight",
    "prepare_images",
    "read_limited",
    "resolve_image_doc",
    "resolve_image_source",
    "submit_image_base64",
]
