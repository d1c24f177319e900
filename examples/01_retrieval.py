"""Semantic search: index documents with JinaDocumentEmbedder, answer questions with JinaTextEmbedder,
InMemoryEmbeddingRetriever and JinaRanker.

    python examples/01_retrieval.py          # the local JinaEmulator (whatever is exported)
    python examples/01_retrieval.py --live   # the hosted API with your JINA_API_KEY

The pipelines are built in `_retrieval.py` (shared with 05_yaml.py and 06_async.py).
"""

from __future__ import annotations

import time

from _jina import jina
from _retrieval import DOCUMENTS, QUERIES, check_top, document_store, indexing_pipeline, print_results, query_inputs
from _retrieval import query_pipeline as build_query_pipeline


def main() -> None:
    with jina() as api:
        store = document_store()

        start = time.perf_counter()
        indexed = indexing_pipeline(api, store).run(
            {"embedder": {"documents": DOCUMENTS}}, include_outputs_from={"embedder"}
        )
        meta = indexed["embedder"]["meta"]
        print(
            f"Indexed {indexed['writer']['documents_written']} documents in {time.perf_counter() - start:.2f} s "
            f"(model {meta['model']}, usage {meta['usage']}, "
            f"{len(indexed['embedder']['documents'][0].embedding)}-d vectors)"
        )

        pipeline = build_query_pipeline(api, store)
        for question in QUERIES:
            start = time.perf_counter()
            result = pipeline.run(query_inputs(question), include_outputs_from={"retriever"})
            print_results(question, result)
            print(f"  ({time.perf_counter() - start:.2f} s)")
            check_top(question, result)

        print(f"\nOK: the expected document came out on top for all {len(QUERIES)} questions.")


if __name__ == "__main__":
    main()
