"""Image inputs for the emulator's embeddings endpoint: deterministic vectors from the decoded pixels.

Not a model. The image is decoded with Pillow, shrunk to a 16x16 thumbnail, and described by a few
coarse features — the colour layout on a 4x4 grid, a joint colour histogram and a histogram of edge
directions — which are hashed into the vector like the text features (see `vectors.py`), plus the
named colours it shows, which texts can name too (see `concepts.py`). Identical images therefore get
identical vectors, images that look alike (re-encoded, resized, slightly noisy) get close ones, and
"a red square" is close to an image of one.

Inputs, as Jina's `ImageDoc` defines them ("a URL or base64-encoded string"): plain base64, or an
`http(s)` URL the emulator can reach (another local server). A `data:` URI is refused with 422: it is
neither form, and Jina's own clients send plain base64 (stricter than the API may be, on purpose).
Images are limited to the spec's 8 MB, read strictly: at most 8,000,000 base64 characters, or bytes
for a fetched URL. Oversize, unreachable or undecodable images are answered with 422 and a `detail`.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import urllib.error
import urllib.request
from typing import Any

from PIL import Image

from haystack_integrations.testing.jina import concepts, vectors
from haystack_integrations.testing.jina.server import ApiError

#: Largest image accepted ("Images up to 8MB"): base64 characters as sent, or bytes fetched from a URL.
MAX_IMAGE_BYTES = 8_000_000
#: Largest decoded image accepted, in pixels (Pillow's decompression-bomb limit).
MAX_IMAGE_PIXELS = 89_478_485
#: Emulator convention for usage: 1000 tokens per started 512x512 tile, at most 8 tiles (the API downsizes).
TOKENS_PER_TILE = 1000
MAX_TILES = 8
URL_TIMEOUT = 5.0
_THUMB = 16
_COLOUR_SAMPLE = 32
_GRID = 4
_LEVELS = 4
_DIRECTIONS = 8
_COLOUR_NAMES = list(concepts.COLOURS)
# the named colours, repeated to fill all 256 palette entries, so any index maps back by modulo
_NAMED_PALETTE = Image.new("P", (1, 1))
_NAMED_PALETTE.putpalette(
    ([channel for rgb in concepts.COLOURS.values() for channel in rgb] * (256 // len(_COLOUR_NAMES) + 1))[: 256 * 3]
)


def image_vector(source: Any, index: int, dimensions: int, *, array: str = "input") -> tuple[list[float], int]:
    """The vector of one image input and the tokens it costs; `array` names the request's list in errors."""
    data = _image_bytes(source, index, array)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ApiError(
                    422,
                    f"{array}[{index}]: the image is {width}x{height} pixels, "
                    f"more than the {MAX_IMAGE_PIXELS} allowed.",
                )
            image.draft("RGB", (_THUMB * 4, _THUMB * 4))  # JPEG: decode at reduced scale, others: no-op
            image.load()
            flat = _flatten(image)
            thumbnail = flat.resize((_THUMB, _THUMB), Image.Resampling.BOX)
            # colours are named on a finer sample: at 16x16, thin coloured shapes blur into their background
            colour_sample = flat.resize((_COLOUR_SAMPLE, _COLOUR_SAMPLE), Image.Resampling.BOX)
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError(422, f"{array}[{index}]: the image is too large to decode.") from None
    except Exception as error:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError, ...
        raise ApiError(422, f"{array}[{index}]: could not decode the image ({type(error).__name__}).") from None
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    looks = vectors.normalize(vectors.hashed_vector(pixel_features(thumbnail), dimensions))
    colours = vectors.normalize(
        vectors.hashed_vector(concepts.image_concepts(_named_colours(colour_sample)), dimensions)
    )
    return vectors.mix(looks, colours, concepts.IMAGE_SHARE), TOKENS_PER_TILE * min(tiles, MAX_TILES)


def pdf_vector(source: Any, index: int, dimensions: int, *, array: str = "input") -> tuple[list[float], int]:
    """
    The vector of one PDF input (`PDFDoc`: a URL or base64): that of its first page, rendered.

    Assumed: the spec says only "PDF as a URL or base64-encoded string", not which pages count; the
    emulator embeds the first page, so a PDF and an image of its first page are alike.
    """
    import pypdfium2

    from haystack_integrations.common.jina.images import pdfium_lock

    data = _image_bytes(source, index, array)
    if not data.startswith(b"%PDF-"):
        raise ApiError(422, f"{array}[{index}].pdf is not a PDF.", field=f"{array}.{index}.pdf")
    try:
        with pdfium_lock():  # PDFium is not thread-safe, and the emulator answers requests on many threads
            document = pypdfium2.PdfDocument(data)
            try:
                rendered = document[0].render(scale=1).to_pil()
            finally:
                document.close()
    except (pypdfium2.PdfiumError, IndexError):
        raise ApiError(422, f"{array}[{index}]: could not read the PDF.", field=f"{array}.{index}.pdf") from None
    page = io.BytesIO()
    rendered.convert("RGB").save(page, "PNG")
    return image_vector(base64.b64encode(page.getvalue()).decode("ascii"), index, dimensions, array=array)


def _image_bytes(source: Any, index: int, array: str) -> bytes:
    if not isinstance(source, str) or not source.strip():
        raise ApiError(422, f"{array}[{index}].image must be a URL or a base64 string.", field=f"{array}.{index}.image")
    source = source.strip()
    if source.startswith("data:"):
        detail = f"{array}[{index}]: a data: URI is neither a URL nor base64; send the image as plain base64."
        raise ApiError(422, detail, field=f"{array}.{index}.image")
    if source.startswith(("http://", "https://")):
        data = _fetch(source, index, array)
        if len(data) > MAX_IMAGE_BYTES:
            detail = f"{array}[{index}]: the image has more than {MAX_IMAGE_BYTES} bytes (8 MB), the limit."
            raise ApiError(422, detail, field=f"{array}.{index}.image")
        return data
    if len(source) > MAX_IMAGE_BYTES:
        detail = (
            f"{array}[{index}]: the image has {len(source)} base64 characters, "
            f"more than the {MAX_IMAGE_BYTES} (8 MB) allowed."
        )
        raise ApiError(422, detail, field=f"{array}.{index}.image")
    return _b64(source, index, array)


def _b64(payload: str, index: int, array: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{array}[{index}]: the image is neither a URL nor valid base64.") from None


def _fetch(url: str, index: int, array: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT) as response:
            data: bytes = response.read(MAX_IMAGE_BYTES + 1)
            return data
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ApiError(422, f"{array}[{index}]: could not fetch the image URL ({type(error).__name__}).") from None


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white (as a viewer shows it)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        return image.convert("F").point(lambda v: v / 256.0).convert("L").convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def _named_colours(image: Image.Image) -> dict[str, int]:
    """How many pixels of an RGB image are nearest to each of `concepts.COLOURS` (matched by Pillow, in C)."""
    indexed = image.quantize(palette=_NAMED_PALETTE, dither=Image.Dither.NONE)
    counts = dict.fromkeys(concepts.COLOURS, 0)
    for index, count in enumerate(indexed.histogram()):
        counts[_COLOUR_NAMES[index % len(_COLOUR_NAMES)]] += count
    return counts


def pixel_features(thumbnail: Image.Image) -> dict[str, float]:
    """Colour layout, colour histogram and edge directions of a 16x16 RGB thumbnail."""
    size = thumbnail.width
    raw = thumbnail.tobytes()  # RGB: three bytes per pixel, row by row
    pixels = [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]
    features: dict[str, float] = {}

    cell = size // _GRID  # colour layout: each cell's mean colour, centred on mid-grey
    for gy in range(_GRID):
        for gx in range(_GRID):
            block = [
                pixels[y * size + x]
                for y in range(gy * cell, (gy + 1) * cell)
                for x in range(gx * cell, (gx + 1) * cell)
            ]
            for channel in range(3):
                mean = sum(p[channel] for p in block) / len(block)
                features[f"img:layout:{gx}:{gy}:{channel}"] = (mean - 127.5) / 127.5

    histogram: dict[str, float] = {}  # joint colour histogram, 4 levels per channel
    for r, g, b in pixels:
        key = f"img:colour:{r * _LEVELS // 256}:{g * _LEVELS // 256}:{b * _LEVELS // 256}"
        histogram[key] = histogram.get(key, 0.0) + 2.0 / len(pixels)
    features.update(histogram)

    luma = [0.299 * r + 0.587 * g + 0.114 * b for r, g, b in pixels]
    edges: dict[str, float] = {}  # direction of the brightness gradient, weighted by its strength
    for y in range(1, size - 1):
        for x in range(1, size - 1):
            dx = luma[y * size + x + 1] - luma[y * size + x - 1]
            dy = luma[(y + 1) * size + x] - luma[(y - 1) * size + x]
            strength = math.hypot(dx, dy) / 510.0
            if strength > 0.02:
                direction = int((math.atan2(dy, dx) + math.pi) / (2 * math.pi) * _DIRECTIONS) % _DIRECTIONS
                key = f"img:edge:{x * 2 // size}:{y * 2 // size}:{direction}"
                edges[key] = edges.get(key, 0.0) + strength
    features.update(edges)
    return features
