"""The model catalogue: what each Jina model takes, written from Jina's OpenAPI description.

Source: "Jina Search Foundation API" 2026.06.29.1712 (`/v1/embeddings` and `/v1/rerank` request
schemas, selected by the `discriminator.mapping` on `model`), plus `jina-reranker-v3.5`, which the spec does
not list (see `_RERANK_MODELS`). Per model it records the request schema,
the input modalities, the request fields besides `model` and `input` / `query` / `documents`, the tasks,
the `dimensions` the request accepts, the vector size, and the context length in tokens.
The checks made from it are in `models.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Context length assumed for a model the catalogue does not know (the smallest published one).
DEFAULT_CONTEXT_LENGTH = 8192

V3_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "classification", "separation")
V4_TASKS = ("text-matching", "retrieval.query", "retrieval.passage", "code.query", "code.passage")
V5_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "clustering", "classification")
CODE_TASKS = tuple(
    f"{kind}.{role}"
    for kind in ("nl2code", "qa", "code2code", "code2nl", "code2completion")
    for role in ("query", "passage")
)

_TEXT_FIELDS = frozenset({"embedding_type", "normalized", "truncate"})
_TEXT_ONLY = frozenset({"text"})
OMNI_MODALITIES = frozenset({"text", "image", "pdf", "audio", "video"})


@dataclass(frozen=True)
class EmbeddingModel:
    """One `/v1/embeddings` model, as its request schema describes it."""

    name: str
    schema: str
    modalities: frozenset[str]  # "text", "image", "pdf", "audio", "video"
    fields: frozenset[str]  # request fields besides model and input
    native_dimensions: int  # the vector size without `dimensions` (per token for ColBERT)
    context_length: int  # tokens per input
    tasks: tuple[str, ...] = ()
    #: the `dimensions` values the request accepts: `range(1, n + 1)`, or a few fixed sizes
    dimensions: range | tuple[int, ...] | None = None
    #: "dense" (one vector per input), "multivector" (one per token: ColBERT) or "sparse" (ELSER)
    output: str = "dense"

    @property
    def images(self) -> bool:
        return "image" in self.modalities

    @property
    def media(self) -> bool:
        """Takes audio and video (the v5-omni models)."""
        return {"audio", "video"} <= self.modalities


@dataclass(frozen=True)
class RerankModel:
    """One `/v1/rerank` model, as its request schema describes it."""

    name: str
    schema: str
    modalities: frozenset[str]
    fields: frozenset[str]  # request fields besides model, query and documents
    context_length: int  # tokens of the query and one document
    listwise: bool = False  # scores the documents of one request together

    @property
    def images(self) -> bool:
        return "image" in self.modalities


def _text_model(name: str, schema: str, fields: frozenset[str], dims: int, context: int, **kw: Any) -> EmbeddingModel:
    return EmbeddingModel(name, schema, frozenset({"text"}), fields, dims, context, **kw)


# Context lengths: the spec's tag descriptions give v3 8K, v4 32K, v5-small 32K, v5-nano 8K and
# reranker-v3 131K tokens. It is silent on the others; those values are assumed from Jina's model cards
# (v2, clip, ColBERT and v1 rerankers 8192; code models 32768; m0 10240; reranker-v2 1024 per pair).
# Vector sizes: the spec gives v5-small 1024 and v5-nano 768 (although the v5 schema accepts
# `dimensions` up to 1024 for both) and the maximum of each `dimensions` range; v2 and clip-v1 (768)
# and ColBERT (128 per token, "Defaults to 128") are assumed from the model cards.
_EMBEDDING_MODELS: tuple[EmbeddingModel, ...] = (
    *(
        _text_model(f"jina-embeddings-v2-base-{lang}", "EmbeddingsV2Request", _TEXT_FIELDS, 768, 8192)
        for lang in ("en", "de", "es", "zh", "code")
    ),
    _text_model(
        "jina-embeddings-v3",
        "EmbeddingsV3Request",
        _TEXT_FIELDS | {"dimensions", "late_chunking", "task"},
        1024,
        8192,
        tasks=V3_TASKS,
        dimensions=range(1, 1025),
    ),
    EmbeddingModel(
        "jina-embeddings-v4",
        "EmbeddingsV4Request",
        frozenset({"text", "image", "pdf"}),
        frozenset(
            {"dimensions", "embedding_type", "late_chunking", "return_multivector", "return_tokenized_input"}
            | {"task", "truncate"}
        ),
        2048,
        32768,
        tasks=V4_TASKS,
        dimensions=range(1, 2049),
    ),
    # EmbeddingsV5Request is shared: "Small/nano sizes support text-only; the omni variant also accepts
    # images, videos, audio, and PDFs". Its `dimensions` goes up to 1024 for all four, but nano vectors have
    # 768 values (model card), so each model's range stops at its own size.
    *(
        EmbeddingModel(
            f"jina-embeddings-v5-{variant}-{size}",
            "EmbeddingsV5Request",
            modalities,
            _TEXT_FIELDS | {"dimensions", "task"},
            dims,
            context,
            tasks=V5_TASKS,
            dimensions=range(1, dims + 1),
        )
        for variant, modalities in (("text", _TEXT_ONLY), ("omni", OMNI_MODALITIES))
        # v5-omni context: 32,768 tokens for both sizes (its model cards); v5-text-nano: 8K (the spec)
        for size, dims, context in (("small", 1024, 32768), ("nano", 768, 8192 if variant == "text" else 32768))
    ),
    *(
        _text_model(
            f"jina-code-embeddings-{size}",
            schema,
            frozenset({"dimensions", "embedding_type", "task", "truncate"}),
            dims,
            32768,
            tasks=CODE_TASKS,
            dimensions=range(1, dims + 1),
        )
        for size, schema, dims in (
            ("0.5b", "CodeEmbeddings500MRequest", 896),
            ("1.5b", "CodeEmbeddings1500MRequest", 1536),
        )
    ),
    EmbeddingModel("jina-clip-v1", "ClipV1Request", frozenset({"text", "image", "pdf"}), _TEXT_FIELDS, 768, 8192),
    EmbeddingModel(
        "jina-clip-v2",
        "ClipV2Request",
        frozenset({"text", "image", "pdf"}),
        _TEXT_FIELDS | {"dimensions", "task"},
        1024,
        8192,
        tasks=("retrieval.query",),
        dimensions=range(1, 1025),
    ),
    _text_model(
        "jina-colbert-v1-en",
        "ColbertV1Request",
        frozenset({"embedding_type", "input_type"}),
        128,
        8192,
        output="multivector",
    ),
    _text_model(
        "jina-colbert-v2",
        "ColbertV2Request",
        frozenset({"dimensions", "embedding_type", "input_type"}),
        128,
        8192,
        dimensions=(64, 96, 128),
        output="multivector",
    ),
    # ELSER answers sparse vectors (a dict from token to weight); its context is assumed (512, BERT-based).
    _text_model(
        "elser-v2",
        "ELSERV2Request",
        frozenset({"embedding_type", "task"}),
        0,
        512,
        tasks=("retrieval.query", "retrieval.passage"),
        output="sparse",
    ),
)

_RERANK_FIELDS = frozenset({"return_documents", "top_n", "truncation"})
_TEXT = frozenset({"text"})
_RERANK_MODELS: tuple[RerankModel, ...] = (
    RerankModel("jina-reranker-v1-base-en", "TextRerankerRequest", _TEXT, _RERANK_FIELDS, 8192),
    RerankModel("jina-reranker-v1-turbo-en", "TextRerankerRequest", _TEXT, _RERANK_FIELDS, 8192),
    RerankModel("jina-reranker-v1-tiny-en", "TextRerankerRequest", _TEXT, _RERANK_FIELDS, 8192),
    RerankModel("jina-reranker-v2-base-multilingual", "TextRerankerRequest", _TEXT, _RERANK_FIELDS, 1024),
    RerankModel(
        "jina-reranker-v3",
        "RerankerV3Request",
        _TEXT,
        _RERANK_FIELDS | {"max_doc_length", "return_embeddings"},
        131072,
        listwise=True,
    ),
    # Not in the spec's model list: Jina's own tools use it since 2026-07 as a "drop-in replacement for
    # jina-reranker-v3 -- same API schema", 131K context (reference README). Assumed: RerankerV3Request's fields.
    RerankModel(
        "jina-reranker-v3.5",
        "RerankerV3Request",
        _TEXT,
        _RERANK_FIELDS | {"max_doc_length", "return_embeddings"},
        131072,
        listwise=True,
    ),
    RerankModel("jina-reranker-m0", "RerankerM0Request", frozenset({"text", "image"}), _RERANK_FIELDS, 10240),
    RerankModel("jina-colbert-v1-en", "TextRerankerRequest", _TEXT, _RERANK_FIELDS, 8192),
    RerankModel("jina-colbert-v2", "TextRerankerRequest", _TEXT, _RERANK_FIELDS, 8192),
)

#: Models the spec does not list, and the listed model whose request schema each one uses.
NOT_IN_SPEC: Mapping[str, str] = {"jina-reranker-v3.5": "jina-reranker-v3"}

EMBEDDING_MODELS: Mapping[str, EmbeddingModel] = {model.name: model for model in _EMBEDDING_MODELS}
RERANK_MODELS: Mapping[str, RerankModel] = {model.name: model for model in _RERANK_MODELS}

#: `max_doc_length` of jina-reranker-v3 (RerankerV3Request): 1 to 8192 tokens, default 2048.
MAX_DOC_LENGTH_RANGE = range(1, 8193)


def models_taking(modality: str) -> list[str]:
    """The known embedding models that take `modality` ("image", "audio", ...), newest first."""
    return sorted((name for name, model in EMBEDDING_MODELS.items() if modality in model.modalities), reverse=True)


def context_length(model: str) -> int:
    """Tokens per input of an embedding model; `DEFAULT_CONTEXT_LENGTH` for an unknown one."""
    known = EMBEDDING_MODELS.get(model)
    return known.context_length if known is not None else DEFAULT_CONTEXT_LENGTH
