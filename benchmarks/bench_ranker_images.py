"""Benchmark JinaRanker ranking image Documents (jina-reranker-m0) against the local emulator. Prints figures.

    python benchmarks/bench_ranker_images.py [--sizes 96 384]

Data: the photo-like 1600x1200 JPEGs of `bench_image_embedder.py` (no `image_size`: each goes unchanged,
about 0.4 MB of base64), reused to make up each candidate list. The emulator runs as a subprocess, so its
work is not counted against the client.

Memory: the peak of Python allocations (tracemalloc, which sees the base64 bytes and request bodies) while
ranking N candidates, against the bound the design promises, the base64 of the images in flight
(`max_images_per_request x max_concurrency`), and against what preparing every image first would hold (the
base64 of all N). Target: the peak stays under 2x the in-flight bound, and about the same for every N.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_image_embedder import documents, make_data, start_emulator
from haystack.utils import Secret

from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import DEFAULT_API_KEY

CONCURRENCY = 5


def run(url: str, folder: Path, count: int) -> None:
    docs = documents(folder, count, photos_only=True)
    ranker = JinaRanker(
        "jina-reranker-m0", Secret.from_token(DEFAULT_API_KEY), base_url=url, root_path=str(folder), top_k=5
    )
    ranker.max_concurrency = CONCURRENCY
    sizes = [len(base64.b64encode((folder / d.meta["file_path"]).read_bytes())) for d in docs]
    in_flight = sum(sorted(sizes)[-ranker.max_images_per_request * CONCURRENCY :])
    ranker.warm_up()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    result = ranker.run("a photo", docs)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert len(result["documents"]) == 5
    mb = 1024 * 1024
    print(
        f"{count:>5} images: {count / seconds:6.1f} images/s   peak {peak / mb:6.1f} MB   "
        f"in-flight bound {in_flight / mb:6.1f} MB (peak/bound {peak / in_flight:.2f})   "
        f"all prepared first {sum(sizes) / mb:6.1f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 384])
    parser.add_argument("--data", help="folder for the generated files (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_rank_images_") as tmp:
        folder = Path(args.data or tmp)
        make_data(folder)
        process, embeddings_url = start_emulator()
        try:
            url = embeddings_url.replace("/v1/embeddings", "/v1/rerank")
            print(f"emulator: {url}; max_concurrency {CONCURRENCY}, {JinaRanker.max_images_per_request} images/request")
            for count in args.sizes:
                run(url, folder, count)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
