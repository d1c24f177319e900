"""Dense + sparse round trip through Qdrant (embedded in the process), where qdrant-haystack is installed.

qdrant-haystack is not in the test environments: it requires haystack-ai>=2.29, so installing it would
lift the Haystack 2.20 floor the test matrix checks. This module is skipped there; the examples
environment has it, and `examples/09_hybrid_qdrant.py` runs the same round trip there.
"""

from __future__ import annotations

import pytest
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaSparseDocumentEmbedder,
    JinaSparseTextEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.testing.jina import JinaEmulator

qdrant = pytest.importorskip("haystack_integrations.document_stores.qdrant", reason="qdrant-haystack is not installed")
retrievers = pytest.importorskip("haystack_integrations.components.retrievers.qdrant")

TEXTS = {
    "cardiology": "A cardiologist is a doctor who treats cardiac disease.",
    "heart-bike": "My heart sank when I saw the bill for my bike.",
    "cinema": "The cinema shows a new movie every Friday.",
}


def test_dense_and_sparse_vectors_survive_qdrant_and_find_the_reworded_document(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    url = emulator.embeddings_url
    documents = [Document(content=text, meta={"name": name}) for name, text in TEXTS.items()]
    documents = JinaDocumentEmbedder(api_key=api_key, base_url=url, progress_bar=False).run(documents)["documents"]
    documents = JinaSparseDocumentEmbedder(api_key=api_key, base_url=url, progress_bar=False).run(documents)[
        "documents"
    ]
    store = qdrant.QdrantDocumentStore(
        location=":memory:", embedding_dim=1024, use_sparse_embeddings=True, return_embedding=True, progress_bar=False
    )
    assert store.write_documents(documents) == len(documents)

    stored = {d.id: d for d in store.filter_documents()}
    for document in documents:
        back = stored[document.id]
        assert back.sparse_embedding.indices == document.sparse_embedding.indices
        assert back.sparse_embedding.values == pytest.approx(document.sparse_embedding.values)
        assert back.meta["sparse_token_index"] == "utf8-blake2b32-31bit-v1"

    question = "Which physician treats the heart?"
    sparse_query = JinaSparseTextEmbedder(api_key=api_key, base_url=url).run(question)["sparse_embedding"]
    dense_query = JinaTextEmbedder(api_key=api_key, base_url=url).run(question)["embedding"]
    sparse_hits = retrievers.QdrantSparseEmbeddingRetriever(document_store=store).run(
        query_sparse_embedding=sparse_query
    )["documents"]
    assert sparse_hits[0].meta["name"] == "cardiology"  # physician -> doctor, heart -> cardiac, treats
    assert "cinema" not in [d.meta["name"] for d in sparse_hits]  # no shared or related token: no sparse score
    hybrid = retrievers.QdrantHybridRetriever(document_store=store, top_k=2).run(
        query_embedding=dense_query, query_sparse_embedding=sparse_query
    )["documents"]
    assert "cardiology" in [d.meta["name"] for d in hybrid]
