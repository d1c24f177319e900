"""The model catalogue: what each Jina model takes, written from Jina's OpenAPI description.

Source: "Jina Search Foundation API" 2026.06.29.1712 (`/v1/embeddings` and `/v1/rerank` request
schemas, selected by the `discriminator.mapping` on `model`), plus `jina-reranker-v3.5`, which the spec does
not list (see `_RERANK_MODELS`). Per model it records the request schema,
the input modalities, the request fields besides `model` and `input` / `query` / `documents`, the tasks,
the `dimensions` the request accepts, the vector size, and the context length in tokens.

Components use it to refuse, at construction, a parameter that a *known* model does not have; unknown
model names pass through untouched, so a model Jina adds tomorrow works. The `JinaEmulator` uses it to
validate requests (more strictly than the API: see `testing/jina/routes_embeddings.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from haystack import logging

from haystack_integrations.common.jina.model_names import closest_known

logger = logging.getLogger(__name__)

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


def describe_dimensions(allowed: range | tuple[int, ...]) -> str:
    if isinstance(allowed, range):
        return f"{allowed.start} to {allowed.stop - 1}"
    return ", ".join(str(value) for value in allowed)


def describe_model(model: EmbeddingModel, parameters: Mapping[str, str]) -> str:
    """
    What the model accepts, for error messages, as the component's constructor parameters.

    :param parameters: The component's parameter for each request field it can send (API name -> its name);
        fields the component has no parameter for (v4's `return_multivector`, ...) are not offered.
    """
    accepted = []
    for field in sorted(model.fields & parameters.keys(), key=lambda name: parameters[name]):
        if field == "task":
            accepted.append(f"task ({', '.join(model.tasks)})")
        elif field == "dimensions" and model.dimensions is not None:
            accepted.append(f"{parameters[field]} ({describe_dimensions(model.dimensions)})")
        else:
            accepted.append(parameters[field])
    inputs = f"inputs: {', '.join(sorted(model.modalities))}"
    if not accepted:
        return f"none of the parameters {', '.join(sorted(parameters.values()))}; {inputs}"
    return f"the parameters {', '.join(accepted)}; {inputs}"


def unknown_model(model: str, endpoint: str, known: Mapping[str, Any]) -> None:
    """Let a name the catalogue does not know pass, unless it is a typo of one it knows."""
    closest, typo = closest_known(model, known)
    if typo:
        msg = f"Unknown {endpoint} model {model!r}: did you mean {closest!r}? Known models: {', '.join(known)}."
        raise ValueError(msg)
    if closest is not None:
        logger.warning(
            "Model {model} is not in this package's catalogue of {endpoint} models (did you mean {closest}?); "
            "it is sent as given, its parameters unchecked.",
            model=model,
            endpoint=endpoint,
            closest=closest,
        )
        return
    logger.debug(
        "Model {model} is not in this package's catalogue of {endpoint} models; its parameters are sent unchecked.",
        model=model,
        endpoint=endpoint,
    )


#: request fields that are JSON booleans in every schema that has them, and `task`, a string
_BOOLEAN_OPTIONS = ("late_chunking", "normalized", "truncate", "return_documents", "return_embeddings")


def check_option_types(options: Mapping[str, Any]) -> None:
    """
    Refuse, for any model (known or not), a value of the wrong JSON type: the API would answer 422.

    :raises ValueError: Naming the parameter, e.g. `truncate="yes"` or `late_chunking=0`.
    """
    for name in _BOOLEAN_OPTIONS:
        value = options.get(name)
        if value is not None and not isinstance(value, bool):
            msg = f"{name} must be True, False or None, got {value!r}"
            raise ValueError(msg)
    task = options.get("task")
    if task is not None and not isinstance(task, str):
        msg = f"task must be None or a string such as 'retrieval.query', got {task!r}"
        raise ValueError(msg)


def check_embedding_model(
    model: str,
    options: Mapping[str, Any],
    *,
    images: bool = False,
    names: Mapping[str, str] | None = None,
    media: bool = False,
) -> None:
    """
    Refuse, before any request, parameters a known embedding model does not have.

    :param options: The request fields the component will send, by their API names (`task`,
        `dimensions`, `late_chunking`, `normalized`, `truncate`, ...); `None` means not sent.
        `late_chunking=False` means the same as not sending it and passes for every model.
    :param images: Whether the component sends images.
    :param media: Whether the component sends audio and video.
    :param names: The component's parameter name for a field where it differs (`dimensions` ->
        `embedding_dimension`); messages name parameters as the constructor takes them.
    :raises ValueError: Naming the model and the parameters it accepts. Unknown models pass (logged at
        debug level) unless the name is a typo of a known one ("did you mean ..."); a value of the wrong
        type (`truncate="yes"`) raises for any model.
    """
    check_option_types(options)
    known = EMBEDDING_MODELS.get(model)
    if known is None:
        if model in RERANK_MODELS:
            msg = f"{model} is a reranker, not an embedding model: use it with JinaRanker."
            raise ValueError(msg)
        unknown_model(model, "embeddings", EMBEDDING_MODELS)
        return
    parameters = {field: (names or {}).get(field, field) for field in options}

    def refuse(problem: str) -> ValueError:
        return ValueError(f"{model} {problem}. It accepts {describe_model(known, parameters)}.")

    if known.output != "dense":
        kind = "one vector per token (multi-vector)" if known.output == "multivector" else "sparse vectors"
        hint = " Rank with it through JinaRanker instead." if model in RERANK_MODELS else ""
        if known.output == "sparse":
            hint = " Use JinaSparseTextEmbedder / JinaSparseDocumentEmbedder for its sparse embeddings."
        msg = f"{model} answers {kind}, and a Haystack Document holds one dense vector.{hint}"
        raise ValueError(msg)
    if media and not known.media:
        raise refuse(f"does not take audio or video (models that do: {', '.join(models_taking('audio'))})")
    if images and not known.images:
        raise refuse(f"does not take images (models that do: {', '.join(models_taking('image'))})")
    for name, value in options.items():
        if value is None or (name == "late_chunking" and value is False):
            continue
        if name not in known.fields:
            raise refuse(f"has no `{parameters[name]}` parameter (got {parameters[name]}={value!r})")
    task = options.get("task")
    if task is not None and task not in known.tasks:
        raise refuse(f"has no task {task!r}")
    dimensions = options.get("dimensions")
    if dimensions is not None and known.dimensions is not None and dimensions not in known.dimensions:
        raise refuse(f"cannot give {dimensions!r} dimensions (`{parameters['dimensions']}`)")


def check_rerank_model(model: str, options: Mapping[str, Any], *, images: Mapping[str, Any] | None = None) -> None:
    """
    Refuse, before any request, a known non-reranker or a parameter a known reranker does not have.

    :param options: Optional request fields by their API names; `None` means not sent.
    :param images: The image options the component was given (only those that differ from their defaults):
        refused with a known reranker that takes no images (`RerankerM0Request` is the only schema with `ImageDoc`).
    :raises ValueError: Naming the model and what it accepts. Unknown models pass (logged at debug level).
    """
    check_option_types(options)
    known = RERANK_MODELS.get(model)
    if known is None:
        if model in EMBEDDING_MODELS:
            msg = f"{model} is an embedding model, not a reranker. Rerankers: {', '.join(RERANK_MODELS)}."
            raise ValueError(msg)
        unknown_model(model, "rerank", RERANK_MODELS)
        return
    if images and not known.images:
        takers = ", ".join(name for name, reranker in RERANK_MODELS.items() if reranker.images)
        given = ", ".join(f"{name}={value!r}" for name, value in images.items())
        msg = f"{model} ranks text only, so it takes no image options (got {given}). Rerankers with images: {takers}."
        raise ValueError(msg)
    for name, value in options.items():
        if value is not None and name not in known.fields:
            # the ranker's own parameters only: `top_n` and the like are the component's business
            offered = sorted(known.fields & options.keys())
            accepted = f"the parameters {', '.join(offered)}" if offered else f"none of {', '.join(sorted(options))}"
            msg = f"{model} has no `{name}` parameter (got {name}={value!r}). It accepts {accepted}."
            raise ValueError(msg)
    max_doc_length = options.get("max_doc_length")
    if max_doc_length is not None and (
        not isinstance(max_doc_length, int)
        or isinstance(max_doc_length, bool)
        or max_doc_length not in MAX_DOC_LENGTH_RANGE
    ):
        msg = (
            f"{model} takes max_doc_length as a whole number of tokens from {MAX_DOC_LENGTH_RANGE.start} to "
            f"{MAX_DOC_LENGTH_RANGE.stop - 1} (default 2048), got {max_doc_length!r}."
        )
        raise ValueError(msg)
