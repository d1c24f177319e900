"""Late chunking: chunk embeddings that keep the context of their source document.

    python examples/02_late_chunking.py

Two articles are split into sentences with Haystack's DocumentSplitter and embedded twice with
JinaDocumentEmbedder: once chunk by chunk, once with `late_chunking=True`, where all chunks of one
source go to the API in one request, in order, and each chunk is embedded in the context of the others.
The sentence "Its almost four million inhabitants ..." never names Berlin; only with late chunking
does its vector know that it is about Berlin.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from _jina import JinaApi, jina, shorten
from haystack import Document, Pipeline
from haystack.components.preprocessors import DocumentSplitter

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder

ARTICLES = [
    Document(
        id="berlin",
        content="Berlin is the capital and largest city of Germany, both by area and by population. "
        "Its almost four million inhabitants make it the European Union's most populous city, "
        "as measured by population within city limits. "
        "The city is also one of the states of Germany, and is the third smallest state in the country by area.",
    ),
    Document(
        id="paris",
        content="Paris is the capital and most populous city of France. "
        "Its estimated population of about two million residents lives in an area of 105 square kilometres. "
        "The city is a major railway, highway and air-transport hub served by two international airports.",
    ),
]
QUERY = "Berlin"
CONTEXT_DEPENDENT = "Its almost four million inhabitants"


def cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b)))


def embed_chunks(api: JinaApi, late_chunking: bool) -> tuple[list[Document], dict[str, Any], int | None]:
    """Split and embed the articles: the chunks, the embedder's meta and the requests it made (emulator only)."""
    pipeline = Pipeline()
    pipeline.add_component("splitter", DocumentSplitter(split_by="period", split_length=1))
    pipeline.add_component(
        "embedder",
        JinaDocumentEmbedder(
            task="retrieval.passage", late_chunking=late_chunking, progress_bar=False, **api.embedder_args()
        ),
    )
    pipeline.connect("splitter.documents", "embedder.documents")
    before = api.requests_to("/v1/embeddings")
    output = pipeline.run({"splitter": {"documents": ARTICLES}})["embedder"]
    after = api.requests_to("/v1/embeddings")
    requests = None if before is None or after is None else after - before
    return output["documents"], output["meta"], requests


def main() -> None:
    with jina() as api:
        naive, naive_meta, naive_requests = embed_chunks(api, late_chunking=False)
        late, late_meta, late_requests = embed_chunks(api, late_chunking=True)

        per_source = Counter(chunk.meta["source_id"] for chunk in late)
        print(
            f"{len(ARTICLES)} articles -> {len(late)} chunks: " + ", ".join(f"{s} {n}" for s, n in per_source.items())
        )
        for label, meta, requests in (
            ("without late chunking", naive_meta, naive_requests),
            ("with late chunking   ", late_meta, late_requests),
        ):
            counted = "" if requests is None else f"{requests} request(s), "
            print(f"  {label}: {counted}{meta['usage'].get('total_tokens')} tokens")
        if late_requests is not None:  # against the emulator we can see what went over the wire
            assert late_requests == len(ARTICLES), "late chunking should send one request per source document"
            assert naive_requests == 1, "without late chunking all chunks fit in one batch of 32"

        query = JinaTextEmbedder(task="retrieval.query", **api.embedder_args()).run(QUERY)["embedding"]
        print(f'\nCosine similarity to the query "{QUERY}":')
        print(f"  {'without':>7}  {'late':>6}  chunk")
        scores: dict[str, tuple[float, float]] = {}
        for plain, contextual in zip(naive, late, strict=True):
            assert plain.content == contextual.content and plain.embedding and contextual.embedding
            before, after = cosine(query, plain.embedding), cosine(query, contextual.embedding)
            scores[plain.content or ""] = (before, after)
            marker = "  <- never names Berlin" if (plain.content or "").strip().startswith(CONTEXT_DEPENDENT) else ""
            print(f"  {before:7.3f}  {after:6.3f}  [{plain.meta['source_id']}] {shorten(plain.content, 60)}{marker}")

        berlin_chunk = next(text for text in scores if text.strip().startswith(CONTEXT_DEPENDENT))
        before, after = scores[berlin_chunk]
        print(f"\nThe Berlin chunk without its name: {before:.3f} -> {after:.3f} with late chunking.")
        assert after > before, "late chunking should bring the Berlin context into the chunk"
        print("OK")


if __name__ == "__main__":
    main()
