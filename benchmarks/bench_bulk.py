"""Bulk embedding: client CPU per document against the floor, and wall time against the ideal.

JinaDocumentEmbedder (1024 dimensions, float vectors sent as base64, batch 32) against a fast asyncio
stand-in server (`_fast_server.py`, in its own process) with `JINA_RATE_LIMITS=tier2`, so the pacer
runs each job at the concurrency asked for from its first request. Prints, in one run:

1. the floor: base64-decode one vector, turn it into a `list[float]` and `dataclasses.replace` the
   Document with it, per document (measured here, in this process), against our client's CPU per
   document at 0 ms server latency (target: within 1.5x);
2. documents a second one process sustains (one core), against Tier 2's published limits
   (5,000 RPM / 100M TPM, ~300 tokens a document);
3. N documents at 100 ms server latency with 50 and with 500 requests in flight, against the ideal
   ceil(requests / in flight) x latency;
4. 10k documents with `max_concurrency=5` (the Free tier's concurrency, stated: the default `None`
   follows the key and grows from 5) at 100 ms, against the ideal;
5. the published `jina-haystack` package's CPU per document and wall time, when `--published-python`
   names a Python with it installed (never a dependency of ours; see below).

    python benchmarks/bench_bulk.py                  # quick: 20k documents for CPU and the bulk runs
    python benchmarks/bench_bulk.py --docs 100000 --cpu-docs 100000     # the full-size figures

The published package runs in a separate venv (it installs its own `haystack_integrations`; it is never
a dependency of ours). `--published-venv DIR` creates DIR with `python -m venv` and `pip install
jina-haystack` when it has no Python yet (needs PyPI), then uses it; or make one yourself:

    python -m venv /tmp/published && /tmp/published/bin/pip install jina-haystack
    python benchmarks/bench_bulk.py --published-python /tmp/published/bin/python

Each phase uses its own API key, so each starts on a fresh pacer (its rate-limit window is its own).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import gc
import json
import math
import os
import subprocess
import sys
import time
from array import array
from pathlib import Path

from _fast_server import fast_server_process, server_stats
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina.ratelimit import (
    START_CONCURRENCY as FREE_TIER_CONCURRENCY,
)  # the Free tier's 5
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

os.environ["JINA_RATE_LIMITS"] = "tier2"  # stated: every job starts at its concurrency (read when a pacer is made)
DIMENSIONS = 1024
BATCH_SIZE = 32
TIER2_RPM, TIER2_TPM, TOKENS_PER_DOC = 5_000, 100_000_000, 300
_keys = iter(range(1_000_000))


def make_documents(count: int) -> list[Document]:
    """Documents of ~300 characters with a little meta, as a chunked corpus has."""
    words = [
        "retrieval",
        "pipelines",
        "embed",
        "documents",
        "into",
        "vectors",
        "so",
        "similar",
        "texts",
        "are",
        "close",
    ]
    return [
        Document(
            content=" ".join(words[(i + k) % len(words)] for k in range(40)) + f" document {i}",
            meta={"file_path": f"corpus/file_{i // 20}.txt", "split_id": i % 20, "source": {"page": i % 7}},
        )
        for i in range(count)
    ]


def floor_cpu_per_doc(documents: list[Document]) -> float:
    """CPU seconds per document for the least any client must do: decode, `tolist`, `replace` (outputs kept)."""
    vector = base64.b64encode(array("f", [0.5] * DIMENSIONS).tobytes()).decode()
    start = time.process_time()
    output = []
    for document in documents:
        floats = array("f")
        floats.frombytes(base64.b64decode(vector))
        output.append(dataclasses.replace(document, embedding=floats.tolist()))
    cpu = time.process_time() - start
    del output
    gc.collect()
    return cpu / len(documents)


def embed(url: str, documents: list[Document], max_concurrency: int) -> tuple[float, float]:
    """Wall and CPU seconds of one `run` (each call on a fresh key, so on a fresh pacer)."""
    os.environ["BENCH_JINA_KEY"] = f"bench-key-{next(_keys)}"
    embedder = JinaDocumentEmbedder(
        api_key=Secret.from_env_var("BENCH_JINA_KEY"),
        base_url=f"{url}/v1/embeddings",
        batch_size=BATCH_SIZE,
        progress_bar=False,
        max_concurrency=max_concurrency,
    )
    embedder.warm_up()
    wall, cpu = time.perf_counter(), time.process_time()
    result = embedder.run(documents)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = result["documents"]
    assert len(out) == len(documents) and all(len(d.embedding or ()) == DIMENSIONS for d in out)
    del result, out
    embedder.close()
    gc.collect()
    return wall, cpu


def _us(values: list[float]) -> str:
    return ", ".join(f"{v * 1e6:.0f}" for v in values)


def ideal(count: int, concurrency: int, latency: float) -> float:
    return math.ceil(math.ceil(count / BATCH_SIZE) / concurrency) * latency


def plain_aiohttp(url: str, documents: list[Document], in_flight: int) -> tuple[float, float]:
    """
    Wall and CPU seconds of the same request building, decoding and output code over a plain aiohttp
    client (no retries, pacing or deadlines): what a native asyncio transport could reach.
    """
    import asyncio

    import aiohttp

    from haystack_integrations.common.jina.client import encode_json
    from haystack_integrations.common.jina.embeddings import (
        batch_positions,
        embedded_copy,
        embeddings_payload,
        parse_embeddings_response,
    )
    from haystack_integrations.common.jina.gc_pause import gc_paused

    endpoint, groups = f"{url}/v1/embeddings", batch_positions(len(documents), BATCH_SIZE)

    async def run() -> list[list[float]]:
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(positions: list[int]) -> list[list[float]]:
                payload = embeddings_payload("jina-embeddings-v3", [documents[p].content for p in positions], {})
                headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
                async with session.post(endpoint, data=bytes(encode_json(payload)), headers=headers) as answer:
                    body = json.loads(await answer.read())
                return parse_embeddings_response(body, len(positions), endpoint).vectors

            batches = await asyncio.gather(*(one(positions) for positions in groups))
        return [vector for batch in batches for vector in batch]

    wall, start = time.perf_counter(), time.process_time()
    vectors = asyncio.run(run())
    with gc_paused():
        output = [embedded_copy(document, vector) for document, vector in zip(documents, vectors, strict=True)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - start
    assert len(output) == len(documents) and len(output[-1].embedding or ()) == DIMENSIONS
    del output, vectors
    gc.collect()
    return wall, cpu


PUBLISHED_CHILD = """
import sys, time, gc
from haystack import Document
from haystack.utils import Secret
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
url, count = sys.argv[1], int(sys.argv[2])
words = "retrieval pipelines embed documents and queries into vectors so that similar texts are close".split()
docs = [Document(content=" ".join(words[(i + k) % len(words)] for k in range(40)) + f" document {i}",
                 meta={"file_path": f"corpus/file_{i // 20}.txt", "split_id": i % 20}) for i in range(count)]
embedder = JinaDocumentEmbedder(api_key=Secret.from_token("bench"), base_url=url + "/v1/embeddings", batch_size=32,
                                progress_bar=False)
wall, cpu = time.perf_counter(), time.process_time()
out = embedder.run(docs)["documents"]
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
assert len(out) == count and all(len(d.embedding) == 1024 for d in out)
print(wall, cpu)
"""


def published_venv(folder: Path) -> str | None:
    """The Python of a venv holding the published package, made (venv + pip install) when missing."""
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"creating {folder} with the published jina-haystack (pip install jina-haystack) ...")
        made = subprocess.run([sys.executable, "-m", "venv", str(folder)], check=False).returncode == 0
        pip = [str(python), "-m", "pip", "install", "-q", "jina-haystack"]
        if not made or subprocess.run(pip, check=False).returncode != 0:
            print("(the published jina-haystack could not be installed here: its figures are skipped)")
            return None
    return str(python)


def published(python: str, url: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds of the published package's `run` (in its own venv, in a child process)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    answer = subprocess.run(
        [python, "-c", PUBLISHED_CHILD, url, str(count)], capture_output=True, text=True, env=env, check=False
    )
    if answer.returncode:
        raise RuntimeError(answer.stderr.strip().splitlines()[-1] if answer.stderr.strip() else "failed")
    wall, cpu = answer.stdout.split()
    return float(wall), float(cpu)


def cpu_per_document(url: str, args: argparse.Namespace) -> float:
    """Sections 1 and 2; returns the floor (CPU seconds per document)."""
    documents = make_documents(args.cpu_docs)
    embed(url, documents[:2_000], 50)  # warm: imports, connections, allocator
    floors, cpus, walls = [], [], []
    for _ in range(args.rounds):  # alternated, so both see the same machine load and heap state
        floors.append(floor_cpu_per_doc(documents))
        wall, cpu = embed(url, documents, 50)
        cpus.append(cpu / len(documents))
        walls.append(wall)
    floor, per_doc, wall = min(floors), min(cpus), min(walls)
    print(f"\n1. CPU per document, {len(documents)} documents, 0 ms server, 50 in flight (best of {args.rounds}):")
    print(f"   floor (b64decode + tolist + replace): {floor * 1e6:6.1f} us   (rounds: {_us(floors)})")
    print(f"   JinaDocumentEmbedder:                 {per_doc * 1e6:6.1f} us   (rounds: {_us(cpus)})")
    print(f"   = {per_doc / floor:.2f}x the floor (target 1.5x); wall {wall:.2f} s")
    try:
        plain = min(plain_aiohttp(url, documents, 50)[1] for _ in range(args.rounds)) / len(documents)
        print(f"   the same decoding and output code over plain aiohttp: {plain * 1e6:.1f} us = {plain / floor:.2f}x")
    except ImportError:
        print("   (the plain-aiohttp reference needs aiohttp and this tree's embedded_copy: skipped)")

    rpm_cap, tpm_cap = TIER2_RPM * BATCH_SIZE / 60, TIER2_TPM / TOKENS_PER_DOC / 60
    print("\n2. Documents a second, one process:")
    print(f"   CPU-bound (1 / CPU per doc): {1 / per_doc:,.0f} docs/s; measured at 0 ms: {len(documents) / wall:,.0f}")
    print(f"   Tier 2 allows {tpm_cap:,.0f} docs/s by TPM ({TOKENS_PER_DOC} tokens a doc), {rpm_cap:,.0f} by RPM")
    print(f"   at batch {BATCH_SIZE}; one process / Tier 2's TPM limit: {1 / per_doc / tpm_cap:.2f}x")
    return floor


def bulk(url: str, args: argparse.Namespace, floor: float) -> None:
    """Sections 3 and 4. `floor`: CPU seconds per document that no Python client can go below."""
    documents = make_documents(max(args.docs, args.default_docs))
    print(f"\n3. {args.docs} documents at {args.latency * 1000:.0f} ms server latency:")
    print(f"   (no Python client beats the floor's CPU either: {args.docs} x floor = {args.docs * floor:.2f} s)")
    for in_flight in args.in_flight:
        server_stats(url)
        wall, cpu = embed(url, documents[: args.docs], in_flight)
        seen = server_stats(url)["max_in_flight"]
        best = ideal(args.docs, in_flight, args.latency)
        bound = max(best, args.docs * floor)
        print(
            f"   max_concurrency {in_flight:4d}: {wall:6.2f} s = {args.docs / wall:,.0f} docs/s; ideal {best:5.2f} s "
            f"= {wall / best:.2f}x, with the floor's CPU {bound:.2f} s = {wall / bound:.2f}x; "
            f"CPU {cpu / args.docs * 1e6:.0f} us/doc; the server saw up to {seen} in flight"
        )
    count = args.default_docs
    wall, _ = embed(url, documents[:count], FREE_TIER_CONCURRENCY)
    best = ideal(count, FREE_TIER_CONCURRENCY, args.latency)
    print(
        f"\n4. {count} documents with max_concurrency={FREE_TIER_CONCURRENCY} (the Free tier's; stated, not the "
        f"default, which grows from it): {wall:.2f} s, "
        f"ideal {best:.2f} s = {wall / best:.2f}x (target 1.05x)"
    )
    try:
        plain, _ = plain_aiohttp(url, documents[:count], FREE_TIER_CONCURRENCY)
        print(f"   plain aiohttp, same code, {FREE_TIER_CONCURRENCY} in flight: {plain:.2f} s = {plain / best:.2f}x")
    except ImportError:
        pass


def published_figures(python: str, url: str, count: int, floor: float | None, latency: float) -> None:
    """Section 5: the published package on the same server (CPU per document at 0 ms, wall time otherwise)."""
    try:
        wall, cpu = published(python, url, count)
    except (RuntimeError, OSError) as error:
        print(f"   published jina-haystack could not be run: {error}")
        return
    figure = f"CPU {cpu / count * 1e6:.0f} us per document"
    if floor is not None:
        figure += f" = {cpu / count / floor:.1f}x the floor"
    print(f"   published jina-haystack, {count} documents at {latency * 1000:.0f} ms: {figure}; wall {wall:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000, help="documents in the bulk runs (full size: 100000)")
    parser.add_argument("--cpu-docs", type=int, default=20_000, help="documents for CPU per document (full: 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of floor + client for CPU per document")
    parser.add_argument("--default-docs", type=int, default=10_000, help="documents for the run at 5 in flight")
    parser.add_argument("--latency", type=float, default=0.1, help="server latency of the bulk runs, seconds")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[50, 500], help="max_concurrency of the bulk runs")
    parser.add_argument("--published-python", help="a Python with the published jina-haystack installed")
    parser.add_argument("--published-venv", help="a venv for the published package, created if missing")
    parser.add_argument("--published-docs", type=int, default=5_000, help="documents for the published package")
    args = parser.parse_args()
    if args.published_venv and not args.published_python:
        args.published_python = published_venv(Path(args.published_venv))
    print(f"JinaDocumentEmbedder: {DIMENSIONS} dims, float (base64 on the wire), batch {BATCH_SIZE}, tier2 stated")
    if not args.published_python:
        print("(published jina-haystack: not run; see --published-python in --help)")

    with fast_server_process(0.0, DIMENSIONS) as url:
        floor = cpu_per_document(url, args)
        if args.published_python:
            print("\n5. The published package, same server:")
            published_figures(args.published_python, url, args.published_docs, floor, 0.0)
        gc.collect()
    with fast_server_process(args.latency, DIMENSIONS) as url:
        bulk(url, args, floor)
        if args.published_python:
            count = min(args.published_docs, args.default_docs)
            published_figures(args.published_python, url, count, None, args.latency)


if __name__ == "__main__":
    main()
