"""CPU per image of proving a JPEG whole before it is sent unchanged: decoding it at 1/8 scale (what the
package did before issue 21, reproduced here) against walking its markers (`jpeg_structure`, what
`image_base64` does now), and the whole `image_base64` call for such an image.

    python benchmarks/bench_image_check.py
    python benchmarks/bench_image_check.py --repeat 100

Also checks that both ways refuse the same damaged files (truncations and random byte changes).
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from haystack_integrations.common.jina.images import image_base64, resolve_image_source
from haystack_integrations.common.jina.jpeg_structure import jpeg_is_complete


def photo_jpeg(size: tuple[int, int], **options: object) -> bytes:
    image = Image.merge(
        "RGB",
        [Image.linear_gradient("L").resize(size), Image.linear_gradient("L").rotate(90).resize(size)] * 1
        + [Image.effect_noise(size, 40)],
    )
    ImageDraw.Draw(image).ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(200, 30, 90))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88, **options)
    return buffer.getvalue()


def decode_check(data: bytes) -> bool:
    """Before: open, decode at 1/8 scale; True if readable."""
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except Exception:
        return False
    return True


def marker_check(data: bytes) -> bool:
    """Now: open (reads the headers), walk the markers, decode only when not sure; True if readable."""
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)):
            pass
    except Exception:
        return False
    return jpeg_is_complete(data) or decode_check(data)


def cpu_ms(function: Callable[[], object], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        function()
    return (time.process_time() - start) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    cases = {
        "1600x1200 baseline": photo_jpeg((1600, 1200)),
        "1600x1200 progressive": photo_jpeg((1600, 1200), progressive=True),
        "4000x3000 baseline": photo_jpeg((4000, 3000)),
        "640x480 baseline": photo_jpeg((640, 480)),
    }
    print("CPU per image, a JPEG sent unchanged (ms)")
    print(f"{'image':24s} {'KB':>6s} {'decode 1/8':>11s} {'markers':>8s} {'ratio':>6s} {'image_base64':>13s}")
    with tempfile.TemporaryDirectory() as folder:
        for name, data in cases.items():
            path = Path(folder, "photo.jpg")
            path.write_bytes(data)
            source = resolve_image_source("d", {"p": str(path)}, file_path_meta_field="p", root_path=None)
            before = cpu_ms(lambda data=data: decode_check(data), args.repeat)
            now = cpu_ms(lambda data=data: marker_check(data), args.repeat)
            whole = cpu_ms(lambda source=source: image_base64(source, None), args.repeat)
            print(f"{name:24s} {len(data) / 1000:6.0f} {before:11.2f} {now:8.3f} {before / now:5.0f}x {whole:13.2f}")

    rng, same, differ = random.Random(0), 0, 0
    for data in cases.values():
        damaged = [data[: int(len(data) * f)] for f in (0.1, 0.5, 0.9, 0.999)]
        for _ in range(150):
            copy = bytearray(data)
            copy[rng.randrange(2, len(data)) if rng.random() < 0.5 else rng.randrange(2, 800)] = rng.randrange(256)
            damaged.append(bytes(copy))
        for candidate in damaged:
            if decode_check(candidate) == marker_check(candidate):
                same += 1
            else:
                differ += 1
    print(f"damaged files judged alike by both checks: {same} of {same + differ}")


if __name__ == "__main__":
    main()
