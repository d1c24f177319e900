"""Checks made from the model catalogue (`model_catalogue.py`, which this module also re-exports).

Components use them to refuse, at construction, a parameter that a *known* model does not have; unknown
model names pass through untouched, so a model Jina adds tomorrow works. The `JinaEmulator` uses the
catalogue to validate requests (more strictly than the API: see `testing/jina/routes_embeddings.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from haystack import logging

from haystack_integrations.common.jina.model_catalogue import (
    DEFAULT_CONTEXT_LENGTH,
    EMBEDDING_MODELS,
    MAX_DOC_LENGTH_RANGE,
    NOT_IN_SPEC,
    RERANK_MODELS,
    EmbeddingModel,
    RerankModel,
    context_length,
    models_taking,
)
from haystack_integrations.common.jina.model_names import closest_known

logger = logging.getLogger(__name__)


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


__all__ = [
    "DEFAULT_CONTEXT_LENGTH",
    "EMBEDDING_MODELS",
    "MAX_DOC_LENGTH_RANGE",
    "NOT_IN_SPEC",
    "RERANK_MODELS",
    "EmbeddingModel",
    "RerankModel",
    "check_embedding_model",
    "check_option_types",
    "check_rerank_model",
    "context_length",
    "describe_dimensions",
    "describe_model",
    "models_taking",
    "unknown_model",
]
