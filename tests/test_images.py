"""Image and PDF-page preparation (`common/jina/images.py`) and the emulator's image vectors."""

from __future__ import annotations

import base64
import io
import math
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.images import (
    ImageSource,
    check_image_size,
    fit_size,
    image_base64,
    resolve_image_source,
)
from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina import images as emulator_images

# ---------------------------------------------------------------------------------------------- helpers


def photo(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A photo-like RGB image: a colour gradient with a few shapes, different per seed."""
    width, height = size
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.new("L", size, (seed * 53) % 256),
        ),
    )
    draw = ImageDraw.Draw(image)
    for k in range(3):
        x, y = (seed * 97 + k * 211) % width, (seed * 61 + k * 157) % height
        draw.ellipse(
            (x - width // 6, y - height // 6, x + width // 6, y + height // 6), fill=(255 - 80 * k, 40 * k, 90)
        )
    return image


def decode(text: str) -> tuple[str, Image.Image, bytes]:
    """The MIME type, image and bytes of what goes into `{"image": ...}`: plain base64, never a data: URI."""
    assert not text.startswith("data:")
    data = base64.b64decode(text, validate=True)
    image = Image.open(io.BytesIO(data))
    image.load()
    return Image.MIME[image.format or ""], image, data


def source(path: Path, page: int | None = None, doc_id: str = "doc-1") -> ImageSource:
    meta: dict[str, object] = {"file_path": str(path)}
    if page is not None:
        meta["page_number"] = page
    return resolve_image_source(doc_id, meta, file_path_meta_field="file_path", root_path=None)


def prepare(path: Path, size: tuple[int, int] | None = None, page: int | None = None) -> tuple[str, Image.Image, bytes]:
    return decode(image_base64(source(path, page), size))


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    a, b = a.convert("RGB"), b.convert("RGB").resize(a.size)
    pairs = zip(a.tobytes(), b.tobytes(), strict=True)
    return sum(abs(x - y) for x, y in pairs) / (a.width * a.height * 3)


def make_pdf(path: Path, pages: list[tuple[tuple[int, int], tuple[int, int, int]]], dpi: int = 72) -> Path:
    """A PDF with one solid-colour page per (size in pixels, colour); at 72 dpi one pixel is one point."""
    images = [Image.new("RGB", size, colour) for size, colour in pages]
    images[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return path


# ---------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tiff")],
)
def test_every_format_is_decoded_resized_and_sent_as_jpeg(tmp_path: Path, fmt: str, suffix: str) -> None:
    original = photo((800, 600))
    path = tmp_path / f"image.{suffix}"
    original.save(path, fmt)
    mime, image, _ = prepare(path, (200, 200))
    assert mime == "image/jpeg"
    assert image.format == "JPEG"
    assert image.size == (200, 150)
    assert image.mode == "RGB"
    tolerance = 25 if fmt == "GIF" else 8  # GIF has a 256-colour palette
    assert mean_abs_diff(image, original) < tolerance


def test_jpeg_extension_jpeg_and_uppercase(tmp_path: Path) -> None:
    path = tmp_path / "PHOTO.JPEG"
    photo().save(path, "JPEG")
    assert prepare(path, (64, 64))[1].size == (64, 48)


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((2000, 500), (512, 512), (512, 128)),
        ((500, 2000), (512, 512), (128, 512)),
        ((1600, 1200), (512, 512), (512, 384)),
        ((1600, 1200), (300, 600), (300, 225)),
        ((3, 1000), (512, 512), (2, 512)),
        ((1000, 1), (100, 100), (100, 1)),
    ],
)
def test_aspect_ratio_is_kept(
    tmp_path: Path, size: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]
) -> None:
    path = tmp_path / "image.png"
    photo(size).save(path)
    assert prepare(path, box)[1].size == expected


def test_small_images_are_never_enlarged_and_are_sent_unchanged(tmp_path: Path) -> None:
    for name, fmt in (("small.jpg", "JPEG"), ("small.png", "PNG"), ("small.webp", "WEBP")):
        path = tmp_path / name
        photo((40, 30)).save(path, fmt)
        mime, image, data = prepare(path, (512, 512))
        assert image.size == (40, 30)
        assert data == path.read_bytes(), f"{fmt} that needs no change must go out as its own bytes"
        assert mime == Image.MIME[fmt]


def test_without_image_size_the_original_size_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    photo((1600, 1200)).save(path, quality=85)
    _, image, data = prepare(path, None)
    assert image.size == (1600, 1200)
    assert data == path.read_bytes()
    bmp = tmp_path / "big.bmp"
    photo((300, 200)).save(bmp)
    mime, image, _ = prepare(bmp, None)
    assert (mime, image.size) == ("image/jpeg", (300, 200))


def test_jpeg_reduced_decode_keeps_quality(tmp_path: Path) -> None:
    original = photo((1600, 1200), seed=3)
    path = tmp_path / "photo.jpg"
    original.save(path, quality=92)
    _, image, _ = prepare(path, (512, 512))
    reference = original.resize((512, 384), Image.Resampling.LANCZOS)
    assert image.size == (512, 384)
    assert mean_abs_diff(image, reference) < 4


def test_animated_gif_uses_first_frame_and_multipage_tiff_first_page(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (60, 40), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    tiff = tmp_path / "pages.tiff"
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    for path in (gif, tiff):
        _, image, _ = prepare(path, (30, 30))
        r, _, b = image.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
        assert r > 200 and b < 60, path


# ---------------------------------------------------------------------------------------------- modes


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (100, 80), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    mime, image, _ = prepare(path, None)
    assert (mime, image.mode) == ("image/jpeg", "RGB")
    r, g, b = image.getpixel((50, 40))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_palette_with_transparency_keeps_alpha_as_png(tmp_path: Path) -> None:
    image = Image.new("P", (80, 60), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    ImageDraw.Draw(image).rectangle((0, 0, 39, 59), fill=1)
    image.info["transparency"] = 0
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    mime, out, _ = prepare(path, (40, 40))
    assert (mime, out.mode, out.size) == ("image/png", "RGBA", (40, 30))
    assert out.getpixel((35, 15))[3] == 0  # type: ignore[index]
    assert out.getpixel((5, 15))[3] == 255  # type: ignore[index]


def test_opaque_palette_and_opaque_alpha_become_jpeg(tmp_path: Path) -> None:
    palette = tmp_path / "palette.gif"
    photo((120, 90)).convert("P").save(palette)
    opaque = tmp_path / "opaque_rgba.png"
    photo((120, 90)).convert("RGBA").save(opaque)
    for path in (palette, opaque):
        mime, out, _ = prepare(path, (60, 60))
        assert (mime, out.mode) == ("image/jpeg", "RGB"), path


def test_la_mode_keeps_alpha_where_it_matters(tmp_path: Path) -> None:
    transparent = Image.merge("LA", (Image.new("L", (50, 50), 128), Image.linear_gradient("L").resize((50, 50))))
    path = tmp_path / "la.png"
    transparent.save(path)
    mime, out, _ = prepare(path, (25, 25))
    assert (mime, out.mode) == ("image/png", "RGBA")
    opaque = tmp_path / "la_opaque.png"
    Image.merge("LA", (Image.new("L", (50, 50), 128), Image.new("L", (50, 50), 255))).save(opaque)
    mime, out, _ = prepare(opaque, (25, 25))
    assert mime == "image/jpeg" and out.mode in ("L", "RGB")


def test_16_bit_grey_and_1_bit_images(tmp_path: Path) -> None:
    deep = Image.linear_gradient("L").resize((64, 64)).convert("I").point(lambda v: v * 200)
    path16 = tmp_path / "deep.png"
    deep.convert("I;16").save(path16)
    mime, out, _ = prepare(path16, None)
    assert (mime, out.mode) == ("image/jpeg", "L")
    low, high = out.getextrema()  # type: ignore[misc]
    assert low < 20 and high > 230, "the 16-bit range is stretched onto 0..255, not clipped to white"
    bilevel = tmp_path / "bilevel.bmp"
    Image.new("1", (32, 16), 1).save(bilevel)
    mime, out, _ = prepare(bilevel, None)
    assert (mime, out.mode, out.size) == ("image/jpeg", "L", (32, 16))


# ---------------------------------------------------------------------------------------------- EXIF


def exif_image(path: Path, orientation: int, size: tuple[int, int] = (400, 200)) -> None:
    """Stored (file) orientation: a red block in the stored top-left corner."""
    image = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, "JPEG", exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize("box", [None, (100, 100)])
def test_exif_rotation_is_applied(tmp_path: Path, box: tuple[int, int] | None) -> None:
    path = tmp_path / "rotated.jpg"
    exif_image(path, 6)  # displayed rotated 90 degrees clockwise: stored top-left is shown top-right
    _, image, data = prepare(path, box)
    assert data != path.read_bytes()
    width, height = image.size
    assert (width, height) == ((200, 400) if box is None else (50, 100))
    r, g, _ = image.getpixel((width - 3, 3))  # type: ignore[misc]
    assert r > 200 and g < 80, "the red corner must be at the top right after rotation"
    r, g, _ = image.getpixel((3, 3))  # type: ignore[misc]
    assert g > 200


def test_exif_orientation_1_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "upright.jpg"
    exif_image(path, 1)
    _, image, data = prepare(path, None)
    assert image.size == (400, 200)
    assert data == path.read_bytes()


# ---------------------------------------------------------------------------------------------- PDF


def test_pdf_page_number_selects_the_page_and_fits_the_box(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", [((200, 100), (255, 0, 0)), ((100, 200), (0, 0, 255))])
    mime, first, _ = prepare(pdf, (50, 50), page=1)
    assert (mime, first.size) == ("image/jpeg", (50, 25))
    r, _, b = first.getpixel((25, 12))  # type: ignore[misc]
    assert r > 200 and b < 60
    _, second, _ = prepare(pdf, (50, 50), page=2)
    assert second.size == (25, 50)
    r, _, b = second.getpixel((12, 25))  # type: ignore[misc]
    assert b > 200 and r < 60


def test_pdf_without_image_size_renders_at_300_dpi(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", [((144, 72), (0, 255, 0))])  # 2 x 1 inches
    _, image, _ = prepare(pdf, None, page=1)
    assert image.size == (600, 300)


def test_pdf_is_rendered_at_the_needed_scale_not_above_300_dpi(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", [((72, 36), (0, 255, 0))])  # 1 x 0.5 inches
    assert prepare(pdf, (2000, 2000), page=1)[1].size == (300, 150)  # a box larger than 300 dpi: no upscaling
    assert prepare(pdf, (100, 100), page=1)[1].size == (100, 50)


def test_rotated_pdf_page(tmp_path: Path) -> None:
    import pypdfium2

    pdf_path = make_pdf(tmp_path / "doc.pdf", [((200, 100), (255, 0, 0))])
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    pdf[0].set_rotation(90)
    rotated = tmp_path / "rotated.pdf"
    pdf.save(str(rotated))
    pdf.close()
    assert prepare(rotated, (50, 50), page=1)[1].size == (25, 50)


def test_pdf_pages_render_concurrently_without_crashing(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", [((300, 200), (i * 20, 100, 200)) for i in range(8)])
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work(page: int) -> None:
        try:
            results.append(prepare(pdf, (90, 90), page=page)[1].size)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(1 + i % 8,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [(90, 60)] * 16


# ---------------------------------------------------------------------------------------------- errors


def resolve(meta: dict[str, object], root_path: str | None = None, doc_id: str = "doc-7") -> ImageSource:
    return resolve_image_source(doc_id, meta, file_path_meta_field="file_path", root_path=root_path)


def test_missing_meta_field(tmp_path: Path) -> None:
    with pytest.raises(JinaInputError, match=r"document doc-7.*'file_path'"):
        resolve({"other": "x.jpg"})
    with pytest.raises(JinaInputError, match="picture"):
        resolve_image_source("doc-7", {}, file_path_meta_field="picture", root_path=None)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(JinaInputError, match=r"doc-7.*nope\.jpg.*no such file"):
        resolve({"file_path": str(tmp_path / "nope.jpg")})
    with pytest.raises(JinaInputError, match="not a regular file"):
        resolve({"file_path": str(tmp_path)})


def test_unsupported_type(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(JinaInputError, match=r"doc-7.*notes\.txt.*unsupported file type 'text/plain'"):
        resolve({"file_path": str(path)})
    svg = tmp_path / "logo.svg"
    svg.write_text("<svg/>")
    with pytest.raises(JinaInputError, match="unsupported"):
        resolve({"file_path": str(svg)})


def test_type_is_sniffed_when_the_name_does_not_tell(tmp_path: Path) -> None:
    png = tmp_path / "blob"
    photo((64, 48)).save(png, "PNG")
    assert resolve({"file_path": str(png)}).mime_type == "image/png"
    pdf = make_pdf(tmp_path / "x.pdf", [((100, 100), (1, 2, 3))])
    renamed = tmp_path / "scan"
    pdf.rename(renamed)
    assert resolve({"file_path": str(renamed), "page_number": 1}).is_pdf
    assert resolve({"file_path": str(png), "mime_type": "image/png"}).mime_type == "image/png"


@pytest.mark.parametrize(
    "payload",
    [b"this is not a jpeg at all", b"\xff\xd8\xff\xe0" + b"\x00" * 50, b""],
    ids=["text", "bad-header", "empty"],
)
def test_corrupt_image(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(payload)
    with pytest.raises(JinaInputError, match=r"document doc-1 \(path '.*broken\.jpg'\).*(corrupt|readable)"):
        prepare(path, (100, 100))


@pytest.mark.parametrize("box", [None, (100, 100)])
def test_truncated_jpeg_is_detected_even_when_sent_unchanged(tmp_path: Path, box: tuple[int, int] | None) -> None:
    buffer = io.BytesIO()
    photo((800, 600)).save(buffer, "JPEG")
    path = tmp_path / "truncated.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(JinaInputError, match=r"truncated\.jpg.*corrupt"):
        prepare(path, box)


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    photo((300, 200)).save(buffer, "PNG")
    path = tmp_path / "truncated.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(JinaInputError, match="corrupt"):
        prepare(path, None)


def test_pdf_errors(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", [((100, 100), (0, 0, 0))] * 2)
    with pytest.raises(JinaInputError, match=r"doc-7.*doc\.pdf.*no 'page_number'"):
        resolve({"file_path": str(pdf)})
    for bad in (0, -1, "2", True, 1.5):
        with pytest.raises(JinaInputError, match="page_number"):
            resolve({"file_path": str(pdf), "page_number": bad})
    with pytest.raises(JinaInputError, match=r"doc-1.*doc\.pdf.*page_number 3 is out of range: the PDF has 2 page"):
        prepare(pdf, (10, 10), page=3)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 garbage garbage")
    with pytest.raises(JinaInputError, match=r"broken\.pdf.*corrupt PDF"):
        prepare(broken, (10, 10), page=1)


def test_path_escaping_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    photo((32, 32)).save(root / "sub" / "ok.png")
    outside = tmp_path / "secret.png"
    photo((32, 32)).save(outside)

    assert resolve({"file_path": "sub/ok.png"}, root_path=str(root)).path == (root / "sub" / "ok.png").resolve()
    assert resolve({"file_path": str(root / "sub" / "ok.png")}, root_path=str(root)).path.name == "ok.png"
    for escaping in ("../secret.png", "sub/../../secret.png", str(outside)):
        with pytest.raises(JinaInputError, match=r"doc-7.*escapes root_path"):
            resolve({"file_path": escaping}, root_path=str(root))
    link = root / "link.png"
    link.symlink_to(outside)
    with pytest.raises(JinaInputError, match="escapes root_path"):
        resolve({"file_path": "link.png"}, root_path=str(root))


def test_without_root_relative_paths_are_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo((32, 32)).save(tmp_path / "here.png")
    monkeypatch.chdir(tmp_path)
    assert resolve({"file_path": "here.png"}).path == Path("here.png")
    assert decode(image_base64(resolve({"file_path": "here.png"}), None))[1].size == (32, 32)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300 - 1)
    with pytest.raises(JinaInputError, match=r"doc-1.*big\.png.*decompression-bomb limit"):
        prepare(path, (100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300)
    assert prepare(path, (100, 100))[1].size == (100, 100)


def test_huge_pdf_page_is_rendered_within_the_pixel_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = make_pdf(tmp_path / "poster.pdf", [((720, 720), (9, 9, 9))])  # 10 x 10 inches: 3000 x 3000 at 300 dpi
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    width, height = prepare(pdf, None, page=1)[1].size
    assert width * height <= 1_000_000 and width > 900


def test_check_image_size() -> None:
    assert check_image_size(None) is None
    assert check_image_size([512, 256]) == (512, 256)
    assert check_image_size((512, 256)) == (512, 256)
    for bad in ((0, 10), (10,), "512x512", (1.5, 2), (True, 3), (-1, 5)):
        with pytest.raises(ValueError, match="image_size"):
            check_image_size(bad)
    assert fit_size((100, 50), None) is None
    assert fit_size((100, 50), (100, 50)) is None
    assert fit_size((100, 50), (10, 10)) == (10, 5)


# ---------------------------------------------------------------------------------------------- emulator


def b64(image: Image.Image, fmt: str = "PNG", **params: object) -> str:
    """Plain base64, as Jina's ImageDoc takes images."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return base64.b64encode(buffer.getvalue()).decode()


def embed(emulator: JinaEmulator, inputs: list[object], model: str = "jina-clip-v2") -> requests.Response:
    return requests.post(
        emulator.embeddings_url,
        json={"model": model, "input": inputs},
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        timeout=30,
    )


def vectors_of(emulator: JinaEmulator, inputs: list[object], model: str = "jina-clip-v2") -> list[list[float]]:
    response = embed(emulator, inputs, model)
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["data"]]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_emulator_identical_images_identical_vectors(emulator: JinaEmulator) -> None:
    image = photo(seed=1)
    raw_base64 = b64(image)
    a, b, c = vectors_of(emulator, [{"image": b64(image)}, {"image": b64(image)}, {"image": raw_base64}])
    assert a == b == c
    assert len(a) == 1024
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-6)


def test_emulator_similar_images_are_close_and_different_ones_far(emulator: JinaEmulator) -> None:
    image = photo((640, 480), seed=1)
    same_as_jpeg = b64(image, "JPEG", quality=70)
    smaller = b64(image.resize((200, 150)))
    noisy = b64(Image.blend(image, Image.effect_noise((640, 480), 30).convert("RGB"), 0.1))
    other = b64(photo((640, 480), seed=7).transpose(Image.Transpose.ROTATE_180))
    flat = b64(Image.new("RGB", (640, 480), (30, 200, 30)))
    base, *rest = vectors_of(
        emulator, [{"image": b64(image)}] + [{"image": u} for u in (same_as_jpeg, smaller, noisy, other, flat)]
    )
    jpeg, resized, with_noise, different, green = (cosine(base, v) for v in rest)
    assert min(jpeg, resized, with_noise) > 0.9
    assert different < 0.6
    assert green < 0.5
    assert min(jpeg, resized, with_noise) > max(different, green) + 0.3


def test_emulator_image_vectors_honour_dimensions_and_usage(emulator: JinaEmulator) -> None:
    response = requests.post(
        emulator.embeddings_url,
        json={
            "model": "jina-clip-v2",
            "input": [{"image": b64(photo((1200, 1000)))}, {"image": b64(photo((4000, 3000)))}],
            "dimensions": 64,
        },
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["data"][0]["embedding"]) == 64
    # emulator convention: 1000 tokens per started 512-pixel tile, at most 8 tiles
    assert body["usage"]["total_tokens"] == 3 * 2 * 1000 + 8 * 1000


@pytest.mark.parametrize(
    ("image", "detail"),
    [
        ("aGVsbG8gd29ybGQ=", "could not decode"),
        ("@@not base64@@", "valid base64"),
        ("data:image/png;base64,aGVsbG8gd29ybGQ=", "a data: URI is neither a URL nor base64"),
        ("data:image/png,rawbytes", "a data: URI is neither"),
        ("!!!", "valid base64"),
        ("", "must be a URL"),
        (42, "must be a URL"),
    ],
)
@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_emulator_rejects_undecodable_images(emulator: JinaEmulator, image: object, detail: str) -> None:
    response = embed(emulator, [{"text": "ok"}, {"image": image}])
    assert response.status_code == 422
    assert detail in response.json()["detail"]
    assert "input[1]" in response.json()["detail"]


def test_emulator_rejects_oversize_images(emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = b64(photo((300, 200)))
    monkeypatch.setattr(emulator_images, "MAX_IMAGE_BYTES", 100)
    response = embed(emulator, [{"image": uri}])
    assert response.status_code == 422 and "base64 characters" in response.json()["detail"]
    monkeypatch.setattr(emulator_images, "MAX_IMAGE_BYTES", 10**8)
    monkeypatch.setattr(emulator_images, "MAX_IMAGE_PIXELS", 300 * 200 - 1)
    response = embed(emulator, [{"image": uri}])
    assert response.status_code == 422 and "300x200 pixels" in response.json()["detail"]


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_emulator_rejects_images_for_text_models(emulator: JinaEmulator) -> None:
    response = embed(emulator, [{"image": b64(photo())}], model="jina-embeddings-v3")
    assert response.status_code == 422


def test_emulator_fetches_reachable_urls_and_refuses_others(emulator: JinaEmulator) -> None:
    png = io.BytesIO()
    photo(seed=2).save(png, "PNG")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(png.getvalue())))
            self.end_headers()
            self.wfile.write(png.getvalue())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cat.png"
        from_url, from_data = vectors_of(emulator, [{"image": url}, {"image": b64(photo(seed=2))}])
        assert from_url == from_data
    finally:
        server.shutdown()
        server.server_close()
    response = embed(emulator, [{"image": url}])  # the server is gone now
    assert response.status_code == 422 and "could not fetch" in response.json()["detail"]


def test_emulator_vector_of_a_prepared_file_matches_its_pixels(tmp_path: Path, emulator: JinaEmulator) -> None:
    path = tmp_path / "p.jpg"
    photo((1600, 1200), seed=4).save(path, quality=90)
    prepared = image_base64(source(path), (512, 512))
    direct = b64(photo((1600, 1200), seed=4))
    a, b = vectors_of(emulator, [{"image": prepared}, {"image": direct}])
    assert cosine(a, b) > 0.95


def test_emulator_is_importable_without_a_running_server() -> None:
    vector, tokens = emulator_images.image_vector(b64(photo((100, 100))), 0, 32)
    assert len(vector) == 32 and tokens == 1000


def _size_in_child(path: str, queue: object) -> None:
    uri = image_base64(source(Path(path)), (20, 20))
    queue.put(decode(uri)[1].size)  # type: ignore[attr-defined]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_preparation_works_in_a_forked_child(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "p.png"
    photo((80, 40)).save(path)
    assert prepare(path, (20, 20))[1].size == (20, 10)  # the parent's decode pool exists now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_size_in_child, args=(str(path), queue))
    child.start()
    try:
        assert queue.get(timeout=30) == (20, 10)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()


def test_an_image_over_the_limit_is_shrunk_until_it_fits(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    channels = [Image.effect_noise((600, 400), 120).convert("L") for _ in range(3)]
    Image.merge("RGB", channels).save(path, "PNG")
    assert len(base64.b64encode(path.read_bytes())) > 120_000
    text = image_base64(source(path), None, max_chars=120_000)
    assert len(text) <= 120_000
    mime, image, _ = decode(text)
    assert mime == "image/jpeg" and image.size[0] / image.size[1] == pytest.approx(1.5, abs=0.02)


def test_an_image_that_cannot_fit_names_its_document(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    photo((200, 100)).save(path)
    with pytest.raises(
        JinaInputError, match=r"document doc-1 \(path .*p\.png'\).*limit of 100 base64 characters"
    ) as info:
        image_base64(source(path), None, max_chars=100)
    assert "200x100 pixels, and fitting would need a side under 16" in str(info.value)  # not "shrunk": it was not


def test_an_image_shrunk_that_still_cannot_fit_says_from_what_to_what(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    Image.merge("RGB", [Image.effect_noise((400, 400), 120).convert("L") for _ in range(3)]).save(path, "PNG")
    with pytest.raises(JinaInputError, match=r"shrunk from 400x400 to \d+x\d+ pixels") as info:
        image_base64(source(path), None, max_chars=600)
    assert "to 400x400" not in str(info.value)


def test_a_url_is_taken_as_it_is(tmp_path: Path) -> None:
    found = resolve_image_source(
        "d", {"file_path": "HTTPS://example.com/a.png "}, file_path_meta_field="file_path", root_path=str(tmp_path)
    )
    assert image_base64(found) == "HTTPS://example.com/a.png"


def test_files_are_read_whole_with_a_buffer_of_their_size_and_refused_over_the_limit(tmp_path: Path) -> None:
    import tracemalloc

    from haystack_integrations.common.jina.images import read_limited

    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 400)
    tracemalloc.start()
    try:
        assert read_limited(path, 50 * 1024 * 1024) == path.read_bytes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # not a buffer of the 50 MB limit
    with pytest.raises(ValueError, match="over the limit of 1000 bytes"):
        read_limited(path, 1000)
