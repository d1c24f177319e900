"""Peak memory of JinaDocumentMediaEmbedder against the bytes it holds in flight.

    python benchmarks/bench_media_embedder.py [--files 200] [--concurrency 8]

Writes `--files` audio and video files of 5 to 20 MB (sparse files: a real header, then zeros, so they take
no disk), embeds them all at `max_concurrency=8` (default `batch_size` 4) against `_fast_server.py` in its
own process (100 ms per request, no validation), and prints, in one run:
- the bytes in flight, measured: the most request bodies (base64 files) alive at once, tracked by wrapping
  the embeddings module's `encode_json` (a body is counted from when it is built until it is freed), and
  the bound `max_concurrency x batch_size` files of mean size;
- the peak growth of this process's RSS (VmHWM after a reset, minus VmRSS before), and its ratio to the
  bytes in flight (target: at most 2x); and the corpus size, to show memory does not follow it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from haystack import Document
from haystack.utils import Secret

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fast_server import fast_server_process, server_stats

from haystack_integrations.common.jina import embeddings
from haystack_integrations.components.embedders.jina import JinaDocumentMediaEmbedder
from haystack_integrations.testing.jina.documents import mp4_clip, wav_clip

MB = 1024 * 1024
#: glibc keeps freed large blocks in the heap once its mmap threshold has grown: a fixed threshold makes
#: RSS show what the component holds, not the allocator's history (as bench_image_embedder.py does).
FIXED_MMAP_THRESHOLD = 1 << 20


def status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def make_files(folder: Path, count: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    sizes = []
    for index in range(count):
        size = rng.randint(5 * MB, 20 * MB)
        name, head = (f"clip_{index:03d}.wav", wav_clip()) if index % 2 else (f"video_{index:03d}.mp4", mp4_clip())
        with (folder / name).open("wb") as handle:
            handle.write(head)
            handle.truncate(size)  # sparse: zeros, no disk
        sizes.append(size)
    return sizes


class LiveBodies:
    """The bytes of request bodies alive now, and the most at once: wraps `embeddings.encode_json`."""

    def __init__(self) -> None:
        self.live = self.peak = 0
        self._lock = threading.Lock()
        original = embeddings.encode_json

        def counted(payload: Any) -> Any:
            body = original(payload)
            self._add(body.length)
            weakref.finalize(body, self._add, -body.length)
            return body

        embeddings.encode_json = counted  # type: ignore[assignment]

    def _add(self, length: int) -> None:
        with self._lock:
            self.live += length
            self.peak = max(self.peak, self.live)

    def reset(self) -> None:
        with self._lock:
            self.peak = self.live


def base64_size(size: int) -> int:
    return 4 * -(-size // 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:  # re-run with a fixed threshold (see above)
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(FIXED_MMAP_THRESHOLD)
        os.execv(sys.executable, [sys.executable, *sys.argv])

    with tempfile.TemporaryDirectory(prefix="bench_media_") as tmp, fast_server_process(latency=0.1) as url:
        folder = Path(tmp)
        sizes = make_files(folder, args.files)
        documents = [Document(meta={"file_path": path.name}) for path in sorted(folder.iterdir())]
        os.environ["JINA_API_KEY"] = "bench-not-a-key"
        embedder = JinaDocumentMediaEmbedder(
            api_key=Secret.from_env_var("JINA_API_KEY"),
            base_url=url + "/v1/embeddings",
            root_path=str(folder),
            max_concurrency=args.concurrency,
            progress_bar=False,
        )
        bodies = LiveBodies()
        embedder.run(documents[:2])  # warm: session, threads, imports
        server_stats(url)
        bodies.reset()
        before = status_kib("VmRSS")
        reset_peak_rss()
        start = time.perf_counter()
        result = embedder.run(documents)
        elapsed = time.perf_counter() - start
        growth = (status_kib("VmHWM") - before) * 1024
        assert all(d.embedding for d in result["documents"]), result["meta"].get("failed_documents")
        stats = server_stats(url)

        files_in_flight = embedder.batch_size * args.concurrency
        mean_in_flight = files_in_flight * base64_size(sum(sizes) // len(sizes))
        largest_in_flight = sum(sorted((base64_size(s) for s in sizes), reverse=True)[:files_in_flight])
        print(f"{len(sizes)} files, {min(sizes) / MB:.1f}-{max(sizes) / MB:.1f} MB, corpus {sum(sizes) / MB:.0f} MB")
        print(
            f"max_concurrency={args.concurrency}, batch_size={embedder.batch_size}: {files_in_flight} files in flight; "
            f"server saw {stats['requests']} requests, at most {stats['max_in_flight']} at once; {elapsed:.1f} s"
        )
        print(
            f"bytes in flight: measured {bodies.peak / MB:.0f} MB of request bodies alive at once; "
            f"bound {mean_in_flight / MB:.0f} MB ({files_in_flight} mean files), "
            f"{largest_in_flight / MB:.0f} MB (largest)"
        )
        print(f"peak RSS growth: {growth / MB:.0f} MB")
        print(
            f"ratio peak / bytes in flight: {growth / bodies.peak:.2f}x (measured), "
            f"{growth / mean_in_flight:.2f}x (bound, mean files); target <= 2x; "
            f"peak / corpus: {growth / sum(sizes):.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
