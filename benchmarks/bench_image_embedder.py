"""Benchmark JinaDocumentImageEmbedder against the local emulator. Prints figures; not a test.

    python benchmarks/bench_image_embedder.py            # both parts
    python benchmarks/bench_image_embedder.py --part a   # speed only
    python benchmarks/bench_image_embedder.py --part b --sizes 150 450 900

Data: 150 photo-like 1600x1200 JPEGs plus a 30-page scanned-style PDF (Letter pages at 150 dpi), made
in a temporary folder. The emulator runs as a subprocess (`python -m haystack_integrations.testing.jina`),
so its CPU and memory are not counted against the client; pass `--url` to use one already running.

(a) `image_size=(512, 512)`: images per second, ours against a naive baseline that decodes every image
    at full size and then shrinks it (PDF pages rendered at 300 dpi, then shrunk), as Haystack's image
    utilities and the previous package do. Three figures: the naive baseline sent batch after batch
    (the previous package's behaviour), the naive preparation on our concurrent pipeline, and ours. The
    preparation alone (one thread, no HTTP) is timed too, to separate decoding gains from concurrency.
(b) no resize: peak memory growth while embedding 150 and 450 full-size photos (1600x1200), each size in
    a fresh process, against the base64 bytes in flight (batch_size x max_concurrency images): RSS (peak
    during the run, VmHWM, minus RSS before it) and, from tracemalloc, the peak of Python allocations
    above what the result itself keeps; RSS is measured again with a fixed glibc mmap threshold (see
    FIXED_MMAP_THRESHOLD). Target: working memory (growth minus the result's vectors) at most 2x the
    bytes in flight, the same at 150 and 450. The previous package's "prepare everything, then send"
    is measured the same way for contrast.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from haystack import Document
from haystack.utils import Secret
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from haystack_integrations.common.jina import engine
from haystack_integrations.common.jina.embeddings import batch_positions, embed_documents, image_size_of
from haystack_integrations.common.jina.images import image_base64, resolve_image_source
from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder
from haystack_integrations.testing.jina import DEFAULT_API_KEY

PHOTOS = 150
PDF_PAGES = 30
PHOTO_SIZE = (1600, 1200)
BOX = (512, 512)


# ------------------------------------------------------------------------------------------- data


def make_data(folder: Path) -> None:
    """150 photo-like JPEGs and a 30-page PDF, unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "done").exists():
        return
    started = time.perf_counter()
    textures = [Image.effect_noise(PHOTO_SIZE, 60 + 10 * k).filter(ImageFilter.GaussianBlur(1.2)) for k in range(4)]
    gradient = Image.linear_gradient("L").resize(PHOTO_SIZE)
    for i in range(PHOTOS):
        red = Image.blend(gradient, textures[i % 4], 0.35)
        green = Image.blend(gradient.rotate(90 + i).resize(PHOTO_SIZE), textures[(i + 1) % 4], 0.35)
        blue = Image.blend(gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), textures[(i + 2) % 4], 0.35)
        image = Image.merge("RGB", (red, green, blue))
        draw = ImageDraw.Draw(image)
        for k in range(6):
            x, y = (i * 131 + k * 277) % 1600, (i * 71 + k * 193) % 1200
            radius = 80 + (i * 13 + k * 29) % 220
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius), fill=((i * 40 + k * 70) % 256, 120, 200 - k * 30)
            )
        image.filter(ImageFilter.GaussianBlur(0.8)).save(folder / f"photo_{i:03d}.jpg", quality=90)
    pages = []
    for p in range(PDF_PAGES):  # a scanned report: Letter at 150 dpi
        page = Image.new("RGB", (1275, 1650), (250, 250, 245))
        draw = ImageDraw.Draw(page)
        for line in range(40):
            draw.rectangle(
                (120, 150 + line * 35, 120 + (900 + (line * 37 + p * 11) % 250), 165 + line * 35), fill=(40, 40, 40)
            )
        draw.rectangle((700, 300, 1150, 700), fill=((p * 30) % 256, 90, 160))
        pages.append(page)
    pages[0].save(folder / "report.pdf", resolution=150, save_all=True, append_images=pages[1:], quality=85)
    (folder / "done").write_text("ok")
    took = time.perf_counter() - started
    print(f"made {PHOTOS} photos {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} and a {PDF_PAGES}-page PDF in {took:.1f} s")


def documents(folder: Path, count: int, *, photos_only: bool = False) -> list[Document]:
    """`count` documents: every sixth a PDF page (unless `photos_only`), the rest photos (files reused)."""
    docs = []
    photo = page = 0
    for i in range(count):
        if i % 6 == 5 and not photos_only:
            docs.append(Document(id=f"d{i}", meta={"file_path": "report.pdf", "page_number": page % PDF_PAGES + 1}))
            page += 1
        else:
            docs.append(Document(id=f"d{i}", meta={"file_path": f"photo_{photo % PHOTOS:03d}.jpg"}))
            photo += 1
    return docs


# ------------------------------------------------------------------------------------------- the naive way


def naive_image(folder: Path, document: Document, size: tuple[int, int] | None) -> str:
    """Decode at full size, then shrink; PDF pages rendered at 300 dpi, then shrunk (the common approach)."""
    path = folder / document.meta["file_path"]
    if path.suffix == ".pdf":
        import pypdfium2

        pdf = pypdfium2.PdfDocument(str(path))
        page = pdf[document.meta["page_number"] - 1]
        image = page.render(scale=300 / 72).to_pil()
        pdf.close()
    else:
        data = path.read_bytes()
        if size is None:  # the previous package sends the file's bytes as they are
            return base64.b64encode(data).decode()
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if size is not None:
        image.thumbnail(size, reducing_gap=None)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode()  # plain base64, as Jina's ImageDoc takes it


def naive_sequential_run(url: str, folder: Path, docs: list[Document], size: tuple[int, int] | None) -> int:
    """The previous package's shape: prepare every image first, then send batches of 5 one after another."""
    inputs = [naive_image(folder, d, size) for d in docs]
    embedded = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {DEFAULT_API_KEY}"
        for start in range(0, len(inputs), 5):
            body = {"model": "jina-clip-v2", "input": [{"image": u} for u in inputs[start : start + 5]]}
            response = session.post(url, json=body, timeout=120)
            response.raise_for_status()
            embedded += len(response.json()["data"])
    return embedded


def embedder(url: str, folder: Path, size: tuple[int, int] | None) -> JinaDocumentImageEmbedder:
    return JinaDocumentImageEmbedder(
        api_key=Secret.from_token(DEFAULT_API_KEY),
        base_url=url,
        root_path=str(folder),
        image_size=size,
        progress_bar=False,
        max_concurrency=5,  # stated, so the bound of images in flight is fixed (unstated it grows, up to 16)
    )


# ------------------------------------------------------------------------------------------- (a) speed


def timed(fn: Callable[[], Any], repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def part_a(url: str, folder: Path) -> None:
    docs = documents(folder, PHOTOS + PDF_PAGES)
    n = len(docs)
    width, height = PHOTO_SIZE
    print(f"\n(a) image_size={BOX}: {n} documents ({PHOTOS} photos {width}x{height} + {PDF_PAGES} PDF pages)")
    sources = [
        resolve_image_source(d.id, d.meta, file_path_meta_field="file_path", root_path=str(folder)) for d in docs
    ]

    prep_naive = timed(lambda: [naive_image(folder, d, BOX) for d in docs], repeat=1)
    prep_ours = timed(lambda: [image_base64(s, BOX) for s in sources], repeat=2)
    photos_naive = timed(lambda: [naive_image(folder, d, BOX) for d in docs if "page_number" not in d.meta], repeat=1)
    photos_ours = timed(lambda: [image_base64(s, BOX) for s in sources if not s.is_pdf], repeat=2)
    pages_naive = timed(lambda: [naive_image(folder, d, BOX) for d in docs if "page_number" in d.meta], repeat=1)
    pages_ours = timed(lambda: [image_base64(s, BOX) for s in sources if s.is_pdf], repeat=2)
    print("  preparation only, one thread, no HTTP:")
    for label, count, naive, ours_time in (
        ("all", n, prep_naive, prep_ours),
        ("photos", PHOTOS, photos_naive, photos_ours),
        ("pages", PDF_PAGES, pages_naive, pages_ours),
    ):
        print(
            f"    {label + ':':<7} naive {count / naive:7.1f} img/s   ours {count / ours_time:7.1f} img/s"
            f"   x{naive / ours_time:.1f}"
        )

    seq = timed(lambda: naive_sequential_run(url, folder, docs, BOX), repeat=1)

    component = embedder(url, folder, BOX)
    component.warm_up()

    def ours() -> None:
        result = component.run(docs)
        assert not result["meta"].get("failed_documents")

    def naive_concurrent() -> None:  # the same pipeline as the component, only the preparation differs
        engine.run_sync(
            embed_documents(
                component._client,
                url,
                docs,
                batch_positions(n, component.batch_size),
                lambda position: {"image": naive_image(folder, docs[position], BOX)},
                model=component.model_name,
                options={},
                raise_on_failure=True,
                progress_bar=False,
                size_of=image_size_of,  # the component's own client bounds the requests in flight
                prepare_in_thread=True,
            )
        )

    conc_naive = timed(naive_concurrent, repeat=1)
    end_to_end = timed(ours, repeat=2)
    print("  end to end (prepare + send + parse), emulator in another process:")
    print(f"    naive, prepare all then send batches in turn : {n / seq:7.1f} img/s  ({seq:.2f} s)")
    print(f"    naive preparation on our concurrent pipeline : {n / conc_naive:7.1f} img/s  ({conc_naive:.2f} s)")
    print(f"    JinaDocumentImageEmbedder                    : {n / end_to_end:7.1f} img/s  ({end_to_end:.2f} s)")
    print(
        f"    speed-up vs the naive baseline: x{seq / end_to_end:.1f} (target >= 2);"
        f" vs naive on our pipeline: x{conc_naive / end_to_end:.1f}"
    )


# ------------------------------------------------------------------------------------------- (b) memory


def status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now, VmHWM: peak), in KiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Make the peak RSS (VmHWM) start again from the current RSS (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def memory_child(url: str, folder: Path, count: int, mode: str) -> dict[str, Any]:
    """Runs in a fresh process: embeds `count` documents without resizing and measures memory."""
    import gc
    import tracemalloc

    docs = documents(folder, count, photos_only=True)
    component = embedder(url, folder, None)
    component.run(documents(folder, 12, photos_only=True))  # warm: threads, session, imports
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
        result = component.run(docs)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not result["meta"].get("failed_documents")
        return {"peak_mib": peak / 2**20, "retained_mib": retained / 2**20}
    reset_peak_rss()
    before = status_kib("VmRSS")
    result_mib = 0.0
    if mode == "ours":
        result = component.run(docs)
        assert not result["meta"].get("failed_documents")
        vectors = [d.embedding or [] for d in result["documents"]]  # what the caller keeps: lists of floats
        result_mib = sum(sys.getsizeof(v) + 24 * len(v) for v in vectors) / 2**20
    else:
        naive_sequential_run(url, folder, docs, None)
    return {"growth_mib": max(0, status_kib("VmHWM") - before) / 1024, "result_mib": result_mib}


#: glibc raises its mmap threshold each time a large block is freed, after which freed 25 MB page
#: buffers stay in the heap: RSS then shows the allocator's history, not the working memory. A fixed
#: threshold turns that off, so this column shows what the component itself holds at its peak.
FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}


def run_child(mode: str, count: int, url: str, folder: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--count", str(count), "--url", url, "--data", str(folder)]
    environment = {**os.environ, **(env or {})}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def base64_in_flight(folder: Path) -> float:
    """MiB of base64 the component holds in flight: batch_size x max_concurrency photos of average size."""
    component = embedder("http://unused", folder, None)
    sizes = [4 * -(-(folder / f"photo_{i:03d}.jpg").stat().st_size // 3) for i in range(PHOTOS)]
    return component.batch_size * component.max_concurrency * (sum(sizes) / len(sizes)) / 2**20


def part_b(url: str, folder: Path, sizes: list[int]) -> None:
    in_flight = base64_in_flight(folder)
    width, height = PHOTO_SIZE
    print(f"\n(b) no resize: peak memory growth while embedding {width}x{height} photos (each size in a fresh process)")
    print(f"    base64 in flight (batch_size 5 x max_concurrency 5 photos): {in_flight:.1f} MiB")
    print(
        f"    {'photos':>6} | {'RSS peak growth':>15} | {'the result':>10} | {'the rest':>9} | {'/ in flight':>11}"
        f" | {'the rest, fixed mmap threshold':>30} | {'/ in flight':>11} | {'Python peak above result':>24}"
        f" | {'naive prepare-all: RSS growth':>29}"
    )
    for count in sizes:
        ours = run_child("ours", count, url, folder)
        fixed = run_child("ours", count, url, folder, FIXED_MMAP_THRESHOLD)
        traced = run_child("tracemalloc", count, url, folder)
        naive = run_child("naive", count, url, folder)
        transient = traced["peak_mib"] - traced["retained_mib"]
        rest = ours["growth_mib"] - ours["result_mib"]
        rest_fixed = fixed["growth_mib"] - fixed["result_mib"]
        print(
            f"    {count:>6} | {ours['growth_mib']:>11.1f} MiB | {ours['result_mib']:>6.1f} MiB"
            f" | {rest:>5.1f} MiB | {rest / in_flight:>10.2f}x"
            f" | {rest_fixed:>26.1f} MiB | {rest_fixed / in_flight:>10.2f}x | {transient:>20.1f} MiB"
            f" | {naive['growth_mib']:>25.1f} MiB"
        )
    print("    'the rest' is working memory (peak growth minus the result's vectors): the target is at most")
    print("    2x the base64 in flight, and flat in the number of photos.")
    print("    With glibc's default (dynamic) mmap threshold, RSS also holds freed buffers the allocator")
    print("    kept, so that column varies from run to run; a fixed threshold shows the component's own.")
    print("    tracemalloc counts Python objects only (not Pillow's pixel buffers).")


# ------------------------------------------------------------------------------------------- main


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "haystack_integrations.testing.jina", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.rsplit(" ", 1)[-1].strip() + "/v1/embeddings"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("a", "b", "all"), default="all")
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 450])
    parser.add_argument("--url", help="embeddings URL of a running emulator (default: start one)")
    parser.add_argument("--data", help="folder for the generated files (default: a temporary one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(memory_child(args.url, Path(args.data), args.count, args.child)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench_images_") as tmp:
        folder = Path(args.data or tmp)
        make_data(folder)
        process = None
        url = args.url
        if url is None:
            process, url = start_emulator()
        try:
            print(f"emulator: {url}  (cores: {os.cpu_count()})")
            if args.part in ("a", "all"):
                part_a(url, folder)
            if args.part in ("b", "all"):
                part_b(url, folder, args.sizes)
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
