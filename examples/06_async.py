"""The retrieval pipeline of 01_retrieval.py, run asynchronously: several questions at once.

    python examples/06_async.py

Haystack 2.x runs pipelines asynchronously with `AsyncPipeline`; Haystack 3.x folded that into
`Pipeline.run_async`. The Jina components implement `run_async`, so the questions' HTTP requests
overlap. Against the emulator every request waits 100 ms, so the timings look like a network's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _jina import jina
from _retrieval import DOCUMENTS, QUERIES, check_top, document_store, indexing_pipeline, print_results, query_inputs
from _retrieval import query_pipeline as build_query_pipeline
from haystack import Pipeline

try:  # Haystack 2.x
    from haystack import AsyncPipeline
except ImportError:  # Haystack 3.x: every Pipeline has run_async
    AsyncPipeline = Pipeline

LATENCY = 0.1


async def answer_all(pipeline: Any, questions: list[str]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(pipeline.run_async(query_inputs(question)) for question in questions)))


def main() -> None:
    with jina(latency=LATENCY) as api:
        store = document_store()
        indexing_pipeline(api, store).run({"embedder": {"documents": DOCUMENTS}})
        print(f"Indexed {store.count_documents()} documents; answering with {AsyncPipeline.__name__}.run_async")
        questions = list(QUERIES)

        sync_pipeline = build_query_pipeline(api, store)
        start = time.perf_counter()
        for question in questions:
            sync_pipeline.run(query_inputs(question))
        one_by_one = time.perf_counter() - start

        pipeline = build_query_pipeline(api, store, pipeline_class=AsyncPipeline)
        if api.emulator is not None:  # count the requests in flight at once from here on
            api.emulator.max_in_flight = 0
        start = time.perf_counter()
        results = asyncio.run(answer_all(pipeline, questions))
        together = time.perf_counter() - start

        for question, result in zip(questions, results, strict=True):
            print_results(question, result)
            check_top(question, result)
        print(
            f"\n{len(questions)} questions: {one_by_one:.2f} s one by one with Pipeline.run, "
            f"{together:.2f} s together with asyncio.gather ({one_by_one / together:.1f}x)"
        )
        if api.emulator is not None:  # counted, not timed: a busy machine slows both runs unevenly
            overlapping = api.emulator.max_in_flight
            print(f"At most {overlapping} requests were in flight at once")
            assert overlapping > 1, "the questions' requests should overlap"
        print("OK")


if __name__ == "__main__":
    main()
