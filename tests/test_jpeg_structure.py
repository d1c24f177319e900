"""The cheap JPEG completeness check (`common/jina/jpeg_structure.py`) and how image preparation uses it."""

from __future__ import annotations

import base64
import io
import random
from pathlib import Path

import pytest
from PIL import Image
from test_images import photo

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.images import image_base64, resolve_image_source
from haystack_integrations.common.jina.jpeg_structure import jpeg_is_complete

KINDS = {
    "baseline": {},
    "progressive": {"progressive": True},
    "restart-markers": {"restart_marker_blocks": 2},
    "exif-thumbnail-like": {"exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"},
    "optimized": {"optimize": True},
}


def jpeg(kind: str = "baseline", mode: str = "RGB", size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    photo(size, seed=4).convert(mode).save(buffer, "JPEG", quality=85, **KINDS[kind])
    return buffer.getvalue()


def decodes(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception:
        return False
    return True


def prepared(tmp_path: Path, data: bytes) -> bytes:
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    source = resolve_image_source("doc-9", {"file_path": str(path)}, file_path_meta_field="file_path", root_path=None)
    return base64.b64decode(image_base64(source, None))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_whole_jpegs_are_complete(kind: str, mode: str) -> None:
    assert jpeg_is_complete(jpeg(kind, mode))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_truncation_is_not_complete(kind: str) -> None:
    data = jpeg(kind)
    cuts = sorted({*range(0, 700, 7), *range(700, len(data), max(1, len(data) // 97)), len(data) - 1})
    for cut in cuts:
        assert not jpeg_is_complete(data[:cut]), f"cut at {cut} of {len(data)}"


def test_damaged_headers_are_not_complete() -> None:
    data = jpeg()
    assert not jpeg_is_complete(b"")
    assert not jpeg_is_complete(b"\xff\xd8\xff\xd9")  # no frame, no scan
    assert not jpeg_is_complete(data.replace(b"\xff\xc0", b"\xff\xc8", 1))  # the frame marker gone
    sof = data.index(b"\xff\xc0")
    for offset, value in ((4, 0), (11, 0x55), (12, 9), (9, 7)):  # precision, sampling, table id, component count
        damaged = bytearray(data)
        damaged[sof + offset] = value
        assert not jpeg_is_complete(bytes(damaged)), offset
    dht = data.index(b"\xff\xc4")
    oversubscribed = bytearray(data)
    oversubscribed[dht + 5] = 3  # three codes of length 1: no prefix code has that
    assert not jpeg_is_complete(bytes(oversubscribed))


def test_whatever_a_decoder_refuses_is_not_complete() -> None:
    """On random damage the check never says "whole" for a file the decoder refuses (the old check's verdict)."""
    rng = random.Random(21)
    for kind in ("baseline", "progressive"):
        data = jpeg(kind)
        for _ in range(150):
            damaged = bytearray(data)
            position = rng.randrange(2, len(data)) if rng.random() < 0.5 else rng.randrange(2, 700)
            damaged[position] = rng.randrange(256)
            if not decodes(bytes(damaged)):
                assert not jpeg_is_complete(bytes(damaged)), (kind, position)


def test_a_whole_jpeg_is_sent_as_its_own_bytes(tmp_path: Path) -> None:
    data = jpeg("progressive")
    assert prepared(tmp_path, data) == data


def test_a_jpeg_the_check_is_unsure_of_is_decoded_and_kept_if_readable(tmp_path: Path) -> None:
    whole = jpeg()
    dqt = whole.index(b"\xff\xdb")
    data = whole[:dqt] + b"\x00\x00" + whole[dqt:]  # stray bytes between segments: decoders skip them
    assert not jpeg_is_complete(data)
    assert decodes(data)
    assert prepared(tmp_path, data) == data


def test_a_jpeg_without_its_end_marker_is_refused_naming_the_document(tmp_path: Path) -> None:
    with pytest.raises(JinaInputError, match=r"document doc-9 \(path '.*photo\.jpg'\).*corrupt"):
        prepared(tmp_path, jpeg()[:-2])


def test_a_damaged_jpeg_is_refused_naming_the_document(tmp_path: Path) -> None:
    data = bytearray(jpeg())
    data[data.index(b"\xff\xc0") + 12] = 86  # a quantization table that does not exist
    with pytest.raises(JinaInputError, match=r"document doc-9 \(path '.*photo\.jpg'\).*corrupt"):
        prepared(tmp_path, bytes(data))


@pytest.mark.parametrize("marker", [0xDD, 0xE1, 0xFE, 0xC0])
def test_a_damaged_byte_that_forms_a_marker_in_the_image_data_is_not_complete(marker: int) -> None:
    data = jpeg("progressive", size=(640, 480))
    stuffed = data.index(b"\xff\x00", len(data) // 2)  # an escaped 0xFF in the entropy-coded data
    damaged = data[: stuffed + 1] + bytes([marker]) + data[stuffed + 2 :]
    assert not jpeg_is_complete(damaged)
