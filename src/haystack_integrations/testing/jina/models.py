"""What the emulator knows about Jina models: vector size, context length, tasks, modalities."""

from __future__ import annotations

from dataclasses import dataclass

V3_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "classification", "separation")
V4_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage")


@dataclass(frozen=True)
class EmbeddingModel:
    dimensions: int
    max_tokens: int
    tasks: tuple[str, ...] = ()
    images: bool = False
    matryoshka: bool = False
    late_chunking: bool = False


EMBEDDING_MODELS: dict[str, EmbeddingModel] = {
    "jina-embeddings-v3": EmbeddingModel(1024, 8192, V3_TASKS, matryoshka=True, late_chunking=True),
    "jina-embeddings-v4": EmbeddingModel(2048, 32768, V4_TASKS, images=True, matryoshka=True, late_chunking=True),
    "jina-embeddings-v2-base-en": EmbeddingModel(768, 8192, late_chunking=True),
    "jina-embeddings-v2-base-de": EmbeddingModel(768, 8192, late_chunking=True),
    "jina-embeddings-v2-base-es": EmbeddingModel(768, 8192, late_chunking=True),
    "jina-embeddings-v2-base-zh": EmbeddingModel(768, 8192, late_chunking=True),
    "jina-embeddings-v2-base-code": EmbeddingModel(768, 8192, late_chunking=True),
    "jina-clip-v1": EmbeddingModel(768, 8192, images=True),
    "jina-clip-v2": EmbeddingModel(1024, 8192, ("retrieval.query",), images=True, matryoshka=True),
}

RERANKER_MODELS: dict[str, int] = {
    # name -> max tokens of query + one document
    "jina-reranker-v1-base-en": 8192,
    "jina-reranker-v1-turbo-en": 8192,
    "jina-reranker-v1-tiny-en": 8192,
    "jina-reranker-v2-base-multilingual": 8192,
    "jina-reranker-v3": 131072,
    "jina-reranker-m0": 10240,
    "jina-colbert-v2": 8192,
}
