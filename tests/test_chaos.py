"""1000 documents against mixed faults: every document comes back once, in order, right or visibly failed."""

from __future__ import annotations

from haystack import Document
from haystack.utils import Secret

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
from haystack_integrations.testing.jina import JinaEmulator

FAULTS = [
    ("status", {"status": 429, "retry_after": 0.01}),
    ("status", {"status": 500}),
    ("status", {"status": 503}),
    ("reset", {}),
    ("drop", {}),
    ("truncated", {}),
    ("wrong_count", {}),
    ("nan", {}),
    ("malformed", {}),
]


def test_chaos_every_document_once_in_order_with_its_own_vector_or_none(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    # every other document arrives with a stale vector, which must never survive a failure
    documents = [
        Document(content=f"chaos document {i} about topic {i % 17}", embedding=[7.0] * 3 if i % 2 else None)
        for i in range(1000)
    ]

    def embedder() -> JinaDocumentEmbedder:
        return JinaDocumentEmbedder(
            api_key=api_key,
            base_url=emulator.embeddings_url,
            batch_size=8,
            max_concurrency=8,
            max_retries=2,
            timeout=5,
            raise_on_failure=False,
            progress_bar=False,
        )

    clean = embedder().run(documents)["documents"]
    assert all(d.embedding is not None and len(d.embedding) == 1024 for d in clean)

    emulator.reset()
    for _ in range(6):  # interleaved, so consecutive requests meet different faults
        for kind, options in FAULTS:
            emulator.inject(kind, path="/v1/embeddings", **options)
    result = embedder().run(documents)

    out = result["documents"]
    assert [d.id for d in out] == [d.id for d in documents]  # each exactly once, in order
    failed_ids = [f["id"] for f in result["meta"]["failed_documents"]]
    assert len(failed_ids) == len(set(failed_ids))
    for document, expected in zip(out, clean, strict=True):
        if document.id in failed_ids:
            assert document.embedding is None
        else:
            assert document.embedding == expected.embedding  # its own vector, not a neighbour's
    assert {d.id for d in out if d.embedding is None} == set(failed_ids)
    # non-retryable faults (wrong count, NaN, not JSON) always fail their batches; retries save the rest
    assert 0 < len(failed_ids) < 500
    assert len(emulator.requests) > 125
