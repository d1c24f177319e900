"""Benchmark JinaBatchDocumentEmbedder (Jina's Batch API) against JinaDocumentEmbedder, on the JinaEmulator.

    python benchmarks/bench_batch_embedder.py               # 25,000 documents
    python benchmarks/bench_batch_embedder.py --docs 5000

Prints:
1. wall time of submit + poll + collect with the emulator's batch delay at 0, against JinaDocumentEmbedder
   on the same emulator (a separate process), and the client's peak Python memory for each (tracemalloc);
   both are bound by the emulator computing the vectors, so the ratio shows the client's overhead;
2. resume after a kill between submit and collect: a worker process submits and is killed (SIGKILL) while
   it polls; a new run collects. Prints the jobs on the server, the jobs submitted, and Documents lost;
3. shuffled output with 1% of the lines failing on demand: how many Documents got the vector /v1/embeddings
   gives their text, how many were reported failed, and how many were neither (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_document_embedder import emulator_process
from haystack import Document

from haystack_integrations.components.embedders.jina import JinaBatchDocumentEmbedder, JinaDocumentEmbedder
from haystack_integrations.testing.jina import DEFAULT_API_KEY, JinaEmulator

MODEL = "jina-embeddings-v5-text-nano"
DIMENSIONS = 64


def make_documents(count: int) -> list[Document]:
    topics = ["bees", "rivers", "python", "rerankers", "late chunking"]
    return [Document(content=f"document {i} on {topics[i % 5]}: fact {i * 13 % 997} and more") for i in range(count)]


def batch_embedder(url: str, **kwargs: Any) -> JinaBatchDocumentEmbedder:
    settings: dict[str, Any] = {"model": MODEL, "dimensions": DIMENSIONS, "poll_interval": 0.05, "progress_bar": False}
    return JinaBatchDocumentEmbedder(base_url=url, **{**settings, **kwargs})


def direct_embedder(url: str) -> JinaDocumentEmbedder:
    return JinaDocumentEmbedder(
        model=MODEL,
        task="retrieval.passage",
        dimensions=DIMENSIONS,
        base_url=f"{url}/v1/embeddings",
        batch_size=256,
        progress_bar=False,
    )


def timed(work: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float, float]:
    """The result, wall seconds, and this process's CPU seconds (the client's; the emulator runs apart)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - started, time.process_time() - cpu


def peak_mb(work: Callable[[], dict[str, Any]]) -> float:
    """Peak MB of Python allocations (tracemalloc) while `work` runs: measured apart, as tracemalloc slows it."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def speed_and_memory(count: int) -> None:
    documents = make_documents(count)
    with emulator_process(0.0, "--quiet", "--batch-delay", "0") as url:
        runs: dict[str, Callable[[], dict[str, Any]]] = {
            "batch": lambda: batch_embedder(url, task="retrieval").run(documents),
            "direct": lambda: direct_embedder(url).run(documents),
        }
        seconds: dict[str, list[tuple[float, float]]] = {"batch": [], "direct": []}
        for _ in range(2):  # alternating, best of two: the emulator's caches are warm for both
            for name, work in runs.items():
                result, elapsed, cpu = timed(work)
                assert all(d.embedding for d in result["documents"])
                seconds[name].append((elapsed, cpu))
        memory = {name: peak_mb(work) for name, work in runs.items()}
    (batch, batch_cpu), (direct, direct_cpu) = min(seconds["batch"]), min(seconds["direct"])
    jobs = -(-count // 10_000)
    print(f"1. {count:,} documents, {DIMENSIONS}-d vectors, emulator batch delay 0 (best of 2; memory apart):")
    for label, name, wall, cpu in (
        ("JinaBatchDocumentEmbedder", "batch", batch, batch_cpu),
        ("JinaDocumentEmbedder     ", "direct", direct, direct_cpu),
    ):
        print(f"   {label}  wall {wall:5.1f} s  client CPU {cpu:5.1f} s  peak {memory[name]:5.1f} MB")
    ratios = f"{batch / direct:.2f}x the wall time, {batch_cpu / direct_cpu:.2f}x the client CPU"
    print(f"   batch / direct: {ratios}, {memory['batch'] / memory['direct']:.2f}x the memory")
    print(f"   ({jobs} jobs; the wall time is mostly the emulator making vectors; batch output is JSON floats)")


WORKER = """
import sys
sys.path.insert(0, {here!r})
from bench_batch_embedder import batch_embedder, make_documents
batch_embedder({url!r}, job_store={store!r}).run(make_documents({count}))
"""


def resume_after_kill(count: int) -> None:
    documents = make_documents(count)
    with emulator_process(0.0, "--quiet", "--batch-delay", "3") as url, tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "jobs.json"
        jobs = -(-count // 10_000)
        code = WORKER.format(here=str(Path(__file__).parent), url=url, store=str(store), count=count)
        worker = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "JINA_API_KEY": DEFAULT_API_KEY})
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and worker.poll() is None:
            if store.exists() and len(json.loads(store.read_text())["jobs"]) == jobs:
                break
            time.sleep(0.05)
        worker.kill()
        worker.wait()
        result = batch_embedder(url, job_store=str(store)).run(documents)
        on_server = JinaBatchDocumentEmbedder(model=MODEL)  # only for its client: list the key's jobs
        on_server.warm_up()
        listed = on_server._client.request("GET", f"{url}/v1/batches?limit=100").json()
        on_server.close()
    lost = sum(1 for d in result["documents"] if d.embedding is None)
    print(f"2. killed between submit and collect ({count:,} documents, worker exit {worker.returncode}):")
    print(
        f"   jobs on the server {len(listed)}, expected {jobs}: {len(listed) - jobs} resubmitted; {lost} Documents lost"
    )


def shuffled_with_failures(count: int) -> None:
    documents = make_documents(count)
    with JinaEmulator() as emulator:
        emulator.batches.fail_lines = 0.01
        result = batch_embedder(emulator.url, task="retrieval", raise_on_failure=False).run(documents)
        expected = direct_embedder(emulator.url).run(documents)["documents"]
        failed_on_server = sum(len(job.failing) for job in emulator.batches.jobs.values())
    reported = {item["id"] for item in result["meta"]["failed_documents"]}
    right = wrong = 0
    for got, want in zip(result["documents"], expected, strict=True):
        if (
            got.embedding is not None
            and max(abs(a - b) for a, b in zip(got.embedding, want.embedding or [], strict=True)) < 1e-6
        ):
            right += 1
        elif got.embedding is not None or got.id not in reported:
            wrong += 1
    print(f"3. shuffled output, 1% of lines failing ({failed_on_server} on the server), {count:,} documents:")
    print(f"   right {right:,}, reported failed {len(reported):,}, neither {wrong} (must be 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=25_000)
    args = parser.parse_args()
    os.environ["JINA_API_KEY"] = DEFAULT_API_KEY
    speed_and_memory(args.docs)
    resume_after_kill(args.docs)
    shuffled_with_failures(args.docs)


if __name__ == "__main__":
    main()
