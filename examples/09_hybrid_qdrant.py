"""Hybrid retrieval on a real vector database: dense (jina-embeddings-v3) + sparse (elser-v2) vectors in
Qdrant, fused by QdrantHybridRetriever, reranked by JinaRanker.

    python examples/09_hybrid_qdrant.py          # the local JinaEmulator (whatever is exported)
    python examples/09_hybrid_qdrant.py --live   # the hosted API with your JINA_API_KEY

Qdrant runs inside this process (`location=":memory:"`, no server). It needs `qdrant-haystack`, which is
not a dependency of jina-haystack: `pip install qdrant-haystack` (the examples environment,
`python3 dev.py examples`, has it). Without it the example says so and exits with code 77 (skipped).

Indexing: JinaDocumentEmbedder -> JinaSparseDocumentEmbedder -> DocumentWriter (each embedder fills its
own field, `embedding` and `sparse_embedding`). Query: JinaTextEmbedder + JinaSparseTextEmbedder ->
QdrantHybridRetriever (Reciprocal Rank Fusion of both searches) -> JinaRanker.

The question asks for a "physician" for the "heart"; the relevant document speaks of a "doctor" and
"cardiac" disease, and two others merely share the question's words. The dense retriever alone ranks
the relevant one below the cut; the sparse side (ELSER's expansion terms: physician -> doctor,
heart -> cardiac) lifts it into the hybrid results. Against the emulator this is asserted.
"""

from __future__ import annotations

import sys
from typing import Any

from _jina import jina, shorten
from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter

from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaSparseDocumentEmbedder,
    JinaSparseTextEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.rankers.jina import JinaRanker

try:
    from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever, QdrantHybridRetriever
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
except ImportError:
    QdrantDocumentStore = None

SKIPPED = 77  # the exit code run_all.py and the tests read as "skipped"
DIMENSIONS = 1024  # jina-embeddings-v3
TOP_K = 3
QUESTION = "Which physician should I see about my heart?"
EXPECTED = "cardiology"
FACTS = {
    "cardiology": "A cardiologist is a doctor who diagnoses and treats cardiac disease.",
    "heart-bike": "My heart sank when I saw what the repair of my old bike would cost.",
    "heart-song": "The song Heart of Glass was a hit in 1979; should I see the band live?",
    "dentist": "A dentist looks after teeth and gums and treats tooth decay.",
    "vet": "A veterinarian treats pets such as a sick puppy or a kitten.",
    "lawyer": "An attorney gives legal advice on contracts and disputes.",
    "car": "Regular servicing keeps an automobile running safely for years.",
    "cinema": "The cinema downtown shows a new movie every Friday night.",
    "ocean": "Coral reefs are home to a quarter of all marine species.",
    "money": "Exchange offices at the airport trade foreign currency for cash.",
}


def store() -> Any:
    return QdrantDocumentStore(
        location=":memory:",
        embedding_dim=DIMENSIONS,
        use_sparse_embeddings=True,
        recreate_index=True,
        progress_bar=False,
    )


def index(document_store: Any) -> dict[str, Any]:
    pipeline = Pipeline()
    pipeline.add_component("dense", JinaDocumentEmbedder(task="retrieval.passage", progress_bar=False))
    pipeline.add_component("sparse", JinaSparseDocumentEmbedder(progress_bar=False))
    pipeline.add_component("writer", DocumentWriter(document_store=document_store))
    pipeline.connect("dense.documents", "sparse.documents")
    pipeline.connect("sparse.documents", "writer.documents")
    documents = [Document(content=text, meta={"name": name}) for name, text in FACTS.items()]
    return pipeline.run({"dense": {"documents": documents}}, include_outputs_from={"sparse"})


def hybrid_pipeline(document_store: Any) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("dense", JinaTextEmbedder(task="retrieval.query"))
    pipeline.add_component("sparse", JinaSparseTextEmbedder())
    pipeline.add_component("retriever", QdrantHybridRetriever(document_store=document_store, top_k=TOP_K))
    pipeline.add_component("ranker", JinaRanker(model="jina-reranker-v2-base-multilingual", top_k=TOP_K))
    pipeline.connect("dense.embedding", "retriever.query_embedding")
    pipeline.connect("sparse.sparse_embedding", "retriever.query_sparse_embedding")
    pipeline.connect("retriever.documents", "ranker.documents")
    return pipeline


def dense_ranking(document_store: Any) -> list[str]:
    """Every document as the dense retriever alone ranks them, for comparison."""
    embedding = JinaTextEmbedder(task="retrieval.query").run(QUESTION)["embedding"]
    retriever = QdrantEmbeddingRetriever(document_store=document_store, top_k=len(FACTS))
    return [document.meta["name"] for document in retriever.run(query_embedding=embedding)["documents"]]


def main() -> None:
    if QdrantDocumentStore is None:
        print("09_hybrid_qdrant.py needs qdrant-haystack: pip install qdrant-haystack. Skipped.", flush=True)
        sys.exit(SKIPPED)
    with jina() as api:
        document_store = store()
        indexed = index(document_store)
        sparse_meta = indexed["sparse"]["meta"]
        print(
            f"Indexed {indexed['writer']['documents_written']} documents into Qdrant (in memory) with dense and "
            f"sparse vectors; sparse model {sparse_meta['model']}, token index {sparse_meta['sparse_token_index']}"
        )

        dense = dense_ranking(document_store)
        result = hybrid_pipeline(document_store).run(
            {"dense": {"text": QUESTION}, "sparse": {"text": QUESTION}, "ranker": {"query": QUESTION}},
            include_outputs_from={"retriever"},
        )
        hybrid = [document.meta["name"] for document in result["retriever"]["documents"]]
        print(f"\nQ: {QUESTION}")
        print(f"  dense only, top {TOP_K}:  {', '.join(dense[:TOP_K])}   ({EXPECTED} is #{dense.index(EXPECTED) + 1})")
        print(f"  hybrid (RRF), top {TOP_K}: {', '.join(hybrid)}")
        print("  reranked by JinaRanker:")
        for rank, document in enumerate(result["ranker"]["documents"], start=1):
            print(f"  {rank}. {document.score:.3f}  [{document.meta['name']}] {shorten(document.content)}")
        if api.emulated:
            print("  (the emulator's reranker scores shared words, so a reworded document scores low there)")

        if api.emulated:  # the emulator's vectors are deterministic: the lift is checked, not just shown
            if EXPECTED in dense[:TOP_K] or EXPECTED not in hybrid:
                raise SystemExit(f"expected the sparse side to lift {EXPECTED!r}: dense {dense}, hybrid {hybrid}")
            if hybrid.index(EXPECTED) >= dense.index(EXPECTED):
                raise SystemExit(f"{EXPECTED!r} ranks no higher in the hybrid results: dense {dense}, hybrid {hybrid}")
        lifted = f"from #{dense.index(EXPECTED) + 1} (dense only) into the hybrid top {TOP_K}"
        print(f"\nOK: the sparse side lifted {EXPECTED!r} {lifted}.")


if __name__ == "__main__":
    main()
