"""Benchmark JinaDocumentEmbedder against the JinaEmulator (run in a separate process, so it does not
share this process's GIL or CPU accounting).

    python benchmarks/bench_document_embedder.py            # 10 000 documents, 100 ms latency
    python benchmarks/bench_document_embedder.py --docs 2000

Prints:
1. wall time with max_concurrency=1 vs the default, the speed-up, and the default's wall time against
   the ideal ceil(batches / concurrency) x latency (target: within 1.3x; speed-up >= 5x);
2. client CPU time per 1 000 documents with vectors sent as base64 (what the embedders do) vs as
   JSON floats, and the client's CPU time as a share of the wall time.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.embeddings import embeddings_payload, parse_embeddings_response
from haystack_integrations.common.jina.ratelimit import START_CONCURRENCY
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
from haystack_integrations.testing.jina import DEFAULT_API_KEY

WORDS = [
    "retrieval",
    "pipelines",
    "embed",
    "documents",
    "and",
    "queries",
    "into",
    "vectors",
    "so",
    "that",
    "similar",
    "texts",
    "are",
    "close",
]


@contextmanager
def emulator_process(latency: float, *flags: str) -> Iterator[str]:
    """The emulator in a process of its own, with `latency` and any other command-line `flags`; yields its URL."""
    command = [sys.executable, "-m", "haystack_integrations.testing.jina", "--latency", str(latency), *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        url = line.rsplit(" ", 1)[-1].strip()
        if not url.startswith("http"):
            raise RuntimeError(f"emulator did not start: {line!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_documents(count: int) -> list[Document]:
    return [
        Document(content=" ".join(WORDS[(i + k) % len(WORDS)] for k in range(40)) + f" document {i}")
        for i in range(count)
    ]


def timed_run(url: str, documents: list[Document], max_concurrency: int, batch_size: int) -> tuple[float, float]:
    embedder = JinaDocumentEmbedder(
        api_key=Secret.from_env_var("JINA_API_KEY"),
        base_url=f"{url}/v1/embeddings",
        batch_size=batch_size,
        progress_bar=False,
        max_concurrency=max_concurrency,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    result = embedder.run(documents)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert all(d.embedding for d in result["documents"]), "every document must be embedded"
    return wall, cpu


def client_cpu_per_1000(url: str, documents: list[Document], wire_type: str, batch_size: int) -> float:
    """CPU seconds this process spends per 1 000 documents (request encoding + response decoding)."""
    client = JinaClient(Secret.from_env_var("JINA_API_KEY"), max_concurrency=1)
    endpoint = f"{url}/v1/embeddings"
    texts = [d.content or "" for d in documents]
    start = time.process_time()
    for i in range(0, len(texts), batch_size):
        payload = embeddings_payload("jina-embeddings-v3", texts[i : i + batch_size], {})
        payload["embedding_type"] = wire_type  # "base64" is what the embedders send for float vectors
        batch = len(payload["input"])
        vectors = parse_embeddings_response(client.post_json(endpoint, payload), batch, endpoint).vectors
        assert all(isinstance(v[0], float) for v in vectors)
    return (time.process_time() - start) * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cpu-docs", type=int, default=2_000, help="documents for the base64-vs-float CPU test")
    args = parser.parse_args()
    os.environ["JINA_API_KEY"] = DEFAULT_API_KEY
    documents = make_documents(args.docs)
    batches = math.ceil(args.docs / args.batch_size)
    concurrency = START_CONCURRENCY  # the default: nothing stated, a key starts at 5 (the Free tier's)

    with emulator_process(args.latency) as url:
        print(f"JinaEmulator at {url}, {args.latency * 1000:.0f} ms latency per request")
        print(f"{args.docs} documents, batch size {args.batch_size}: {batches} requests")
        seq_wall, _ = timed_run(url, documents, 1, args.batch_size)
        par_wall, par_cpu = timed_run(url, documents, concurrency, args.batch_size)
        ideal = math.ceil(batches / concurrency) * args.latency
        print(f"sequential (max_concurrency=1):   {seq_wall:7.2f} s  (ideal {batches * args.latency:.2f} s)")
        print(f"default (max_concurrency={concurrency}):      {par_wall:7.2f} s  (ideal {ideal:.2f} s)")
        print(f"speed-up: {seq_wall / par_wall:.1f}x   default vs ideal: {par_wall / ideal:.2f}x (target <= 1.3x)")
        print(f"client CPU during the default run: {par_cpu:.2f} s = {100 * par_cpu / par_wall:.0f}% of wall time")

    with emulator_process(0.0) as url:
        cpu_docs = documents[: args.cpu_docs]
        float_cpu = client_cpu_per_1000(url, cpu_docs, "float", args.batch_size)
        b64_cpu = client_cpu_per_1000(url, cpu_docs, "base64", args.batch_size)
        print(
            f"client CPU per 1000 documents (1024-d): base64 {b64_cpu * 1000:.0f} ms, JSON floats "
            f"{float_cpu * 1000:.0f} ms ({float_cpu / b64_cpu:.1f}x more)"
        )


if __name__ == "__main__":
    main()
