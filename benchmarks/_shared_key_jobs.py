"""N processes embed at once on one key: each runs its own `JinaDocumentEmbedder` job, as workers would.

    JINA_API_KEY=... JINA_API_BASE_URL=http://127.0.0.1:PORT \\
        python benchmarks/_shared_key_jobs.py --processes 4 --docs 500 --batch-size 32

Haystack is imported once here; the workers are forked from this process before any of them makes a
client (on systems without fork they are spawned, and import it again), and start together on a barrier,
so the key sees N fresh processes at the same instant: what N gunicorn, `multiprocessing` or Ray workers
started together do. Every worker uses the component's defaults (set `JINA_RATE_LIMITS` to state a tier).

Prints one JSON line per worker (`process`, `ok`, `seconds`, `documents`, `error`) and exits 1 when any
job failed. Used by `bench_shared_key.py` and by the test suite's shared-key test.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from typing import Any

from haystack import Document

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

START_TIMEOUT = 120  # seconds for every worker to reach the barrier (spawned workers import Haystack first)


def documents(process: int, count: int) -> list[Document]:
    """Distinct texts per process (about 40 tokens each)."""
    return [
        Document(content=f"process {process} note {i}: " + " ".join(f"w{i}x{k}" for k in range(30)))
        for i in range(count)
    ]


def job(process: int, count: int, batch_size: int, start: Any, results: Any) -> None:
    docs = documents(process, count)
    embedder = JinaDocumentEmbedder(batch_size=batch_size, progress_bar=False)
    start.wait(START_TIMEOUT)
    began = time.monotonic()
    outcome: dict[str, Any] = {"process": process, "ok": False, "documents": 0, "error": None}
    try:
        embedded = embedder.run(docs)["documents"]
        outcome["documents"] = sum(d.embedding is not None for d in embedded)
        outcome["ok"] = outcome["documents"] == count
    except Exception as error:  # the job failed: say how (a JinaError's message never holds the key)
        outcome["error"] = f"{type(error).__name__}: {str(error)[:300]}"
    finally:
        outcome["seconds"] = round(time.monotonic() - began, 3)
        outcome["finished"] = time.time()
        embedder.close()
        results.put(outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--docs", type=int, default=500, help="documents per process")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if not os.environ.get("JINA_API_BASE_URL"):
        print("export JINA_API_KEY and JINA_API_BASE_URL (the emulator CLI prints them)", file=sys.stderr)
        return 2

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    start, results = context.Barrier(args.processes + 1), context.Queue()
    workers = [
        context.Process(target=job, args=(i, args.docs, args.batch_size, start, results)) for i in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    start.wait(START_TIMEOUT)
    print(json.dumps({"started": time.time()}), flush=True)
    outcomes = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    for outcome in sorted(outcomes, key=lambda o: o["process"]):
        print(json.dumps(outcome), flush=True)
    return 0 if all(o["ok"] for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
