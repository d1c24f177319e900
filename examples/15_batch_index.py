"""Embed a large corpus with Jina's Batch API, survive a crash after submitting, and resume without paying twice.

    python examples/15_batch_index.py                 # 25,000 Documents: three jobs (at most 10,000 each)
    python examples/15_batch_index.py --docs 30000

1. A worker process runs `JinaBatchDocumentEmbedder(job_store=...)`: it submits the jobs, records each in
   the job store, and starts polling. Then it is killed (SIGKILL: no cleanup runs), as a crash or a
   redeploy would. The jobs keep running on Jina's side.
2. A new run on the same Documents and store picks up the three jobs (nothing is submitted again),
   waits for them and collects the results, matched to the Documents by `custom_id`.
3. The result is checked: every Document embedded, each with its own vector (compared against
   `JinaDocumentEmbedder` on a sample), and the number of jobs submitted.

Against the emulator, jobs take `--delay` seconds to complete (a few seconds here; hours for real).
With `--live` this uses the hosted Batch API and spends credits: it defaults to 100 Documents then.
"""

# No `from __future__ import annotations`: Haystack 2.20 cannot resolve a component's string socket types.
import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _jina import jina, live_requested
from haystack import Document

from haystack_integrations.components.embedders.jina import JinaBatchDocumentEmbedder, JinaDocumentEmbedder

MODEL = "jina-embeddings-v5-text-nano"
DIMENSIONS = 64


def corpus(count: int) -> list[Document]:
    topics = ["bees", "mountains", "rivers", "python", "late chunking", "rerankers", "the reader api"]
    return [
        Document(content=f"Note {i} about {topics[i % 7]}: fact {i} and fact {i * 7 % 1000}.", meta={"n": i})
        for i in range(count)
    ]


def batch_embedder(store: str, poll_interval: float) -> JinaBatchDocumentEmbedder:
    return JinaBatchDocumentEmbedder(
        model=MODEL,
        task="retrieval",
        dimensions=DIMENSIONS,
        job_store=store,
        poll_interval=poll_interval,
        progress_bar=False,
    )


def worker(store: str, count: int, poll_interval: float) -> None:
    """Step 1, in its own process: submit and start waiting (killed before it can collect)."""
    batch_embedder(store, poll_interval).run(corpus(count))


def wait_for_jobs(store: Path, jobs: int, process: subprocess.Popen[bytes], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            recorded = json.loads(store.read_text())["jobs"]
        except (OSError, ValueError, KeyError):
            recorded = []
        if len(recorded) == jobs:
            return [job["batch_id"] for job in recorded]
        time.sleep(0.05)
    sys.exit(f"the worker did not record {jobs} jobs in time (exit code {process.poll()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, help="Documents to embed (default: 25,000; 100 with --live)")
    parser.add_argument("--delay", type=float, default=3.0, help="the emulator's job processing time, seconds")
    parser.add_argument("--live", action="store_true", help="call the hosted Jina API (spends credits)")
    parser.add_argument("--worker", nargs=3, metavar=("STORE", "DOCS", "POLL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), float(args.worker[2]))
        return
    count = args.docs or (100 if live_requested() else 25_000)
    jobs = -(-count // 10_000)

    with jina() as api, tempfile.TemporaryDirectory() as folder:
        poll_interval = 0.2 if api.emulator else 15.0
        if api.emulator:
            api.emulator.batches.delay = args.delay
        store = Path(folder) / "jobs.json"
        documents = corpus(count)

        started = time.perf_counter()
        command = [sys.executable, __file__, "--worker", str(store), str(count), str(poll_interval)]
        process = subprocess.Popen(command)  # inherits JINA_API_KEY and JINA_API_BASE_URL
        batch_ids = wait_for_jobs(store, jobs, process, timeout=300)
        process.kill()
        process.wait()
        print(f"1. submitted {count:,} Documents as {len(batch_ids)} jobs, then killed the worker: {batch_ids}")

        result = batch_embedder(str(store), poll_interval).run(documents)
        embedded = result["documents"]
        seconds = time.perf_counter() - started
        print(f"2. resumed from the job store: collected {len(embedded):,} Documents in {seconds:.1f} s in all")

        submitted = api.requests_to("/v1/batch/embeddings")
        assert all(d.embedding is not None and len(d.embedding) == DIMENSIONS for d in embedded)
        assert [d.id for d in embedded] == [d.id for d in documents]
        assert sorted(result["meta"]["batch_ids"]) == sorted(batch_ids)
        if submitted is not None:
            assert submitted == jobs, submitted  # nothing submitted twice
        sample = random.Random(0).sample(range(count), min(count, 200))
        reference = JinaDocumentEmbedder(
            model=MODEL, task="retrieval.passage", dimensions=DIMENSIONS, progress_bar=False
        )
        direct = reference.run([documents[i] for i in sample])["documents"]
        worst = max(
            max(abs(a - b) for a, b in zip(embedded[i].embedding or [], d.embedding or [], strict=True))
            for i, d in zip(sample, direct, strict=True)
        )
        print(
            f"3. checked: all {count:,} embedded, {submitted if submitted is not None else jobs} jobs submitted in all"
        )
        print(f"   {len(sample)} sampled vectors against JinaDocumentEmbedder: largest difference {worst:.1e}")
        # the emulator's batch vectors are /v1/embeddings' retrieval.passage vectors; Jina's need not be
        if api.emulator:
            assert worst < 1e-6, worst
        print("OK: resumed after the kill; 0 Documents submitted twice, 0 lost.")


if __name__ == "__main__":
    main()
