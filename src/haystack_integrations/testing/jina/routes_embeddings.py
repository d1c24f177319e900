"""`POST /v1/embeddings`, validated like the real API."""

from __future__ import annotations

from typing import Any

from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.models import EMBEDDING_MODELS, EmbeddingModel
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

MAX_INPUTS = 2048
EMBEDDING_TYPES = ("float", "base64", "binary", "ubinary")
LATE_CHUNKING_CONTEXT_WEIGHT = 0.5


def _model(body: dict[str, Any]) -> tuple[str, EmbeddingModel]:
    name = body.get("model")
    if not isinstance(name, str) or name not in EMBEDDING_MODELS:
        raise ApiError(422, f"Unknown model {name!r}. Known models: {', '.join(sorted(EMBEDDING_MODELS))}.")
    return name, EMBEDDING_MODELS[name]


def _check_options(body: dict[str, Any], name: str, model: EmbeddingModel) -> None:
    task = body.get("task")
    if task is not None and task not in model.tasks:
        allowed = ", ".join(model.tasks) or "none"
        raise ApiError(422, f"task {task!r} is not supported by {name}; supported tasks: {allowed}.")
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= model.dimensions:
            raise ApiError(422, f"dimensions must be an integer between 1 and {model.dimensions} for {name}.")
        if not model.matryoshka and dimensions != model.dimensions:
            raise ApiError(422, f"{name} does not support the dimensions parameter.")
    embedding_type = body.get("embedding_type", "float")
    if embedding_type not in EMBEDDING_TYPES:
        raise ApiError(422, f"embedding_type must be one of {', '.join(EMBEDDING_TYPES)}.")
    for flag in ("late_chunking", "normalized", "truncate"):
        if flag in body and not isinstance(body[flag], bool):
            raise ApiError(422, f"{flag} must be a boolean.")
    if body.get("late_chunking") and not model.late_chunking:
        raise ApiError(422, f"{name} does not support late chunking.")


def _vector_for(item: Any, index: int, name: str, model: EmbeddingModel, task: str | None) -> tuple[list[float], int]:
    """The raw vector of one input and its token count."""
    if isinstance(item, dict) and "text" in item and len(item) == 1:
        item = item["text"]
    if isinstance(item, str):
        if not item.strip():
            raise ApiError(422, f"input[{index}] is an empty string.")
        return vectors.text_vector(item, model.dimensions, task, multimodal=model.images), len(vectors.tokens(item))
    if isinstance(item, dict) and "image" in item and len(item) == 1:
        if not model.images:
            raise ApiError(422, f"{name} is a text model; input[{index}] is an image.")
        from haystack_integrations.testing.jina import images

        return images.image_vector(item["image"], index, model.dimensions)
    raise ApiError(422, f"input[{index}] must be a string, {{'text': ...}} or {{'image': ...}}.")


@route("POST", "/v1/embeddings")
def embeddings(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    name, model = _model(body)
    inputs = body.get("input")
    if isinstance(inputs, str | dict):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(422, "input must be a non-empty list.")
    if len(inputs) > MAX_INPUTS:
        raise ApiError(422, f"input has {len(inputs)} items; at most {MAX_INPUTS} are allowed per request.")
    _check_options(body, name, model)
    task = body.get("task")
    truncate = body.get("truncate", False)

    raw, counts = [], []
    for index, item in enumerate(inputs):
        vector, count = _vector_for(item, index, name, model, task)
        if count > model.max_tokens:
            if not truncate:
                raise ApiError(
                    422, f"input[{index}] has {count} tokens, more than the {model.max_tokens} {name} accepts."
                )
            count = model.max_tokens  # the real API cuts the text; the emulator only caps the count
        raw.append(vector)
        counts.append(count)

    if body.get("late_chunking"):
        total = sum(counts)
        if total > model.max_tokens:
            raise ApiError(
                422,
                f"With late_chunking all inputs of a request form one text: {total} tokens exceed "
                f"the {model.max_tokens} {name} accepts.",
            )
        unit = [vectors.normalize(v) for v in raw]
        context = vectors.normalize([sum(column) for column in zip(*unit, strict=True)])
        raw = [vectors.mix(v, context, LATE_CHUNKING_CONTEXT_WEIGHT) for v in unit]

    dimensions = body.get("dimensions") or model.dimensions
    embedding_type = body.get("embedding_type", "float")
    data = []
    for index, (full, count) in enumerate(zip(raw, counts, strict=True)):
        vector = vectors.normalize(full[:dimensions])  # Matryoshka: truncate, then renormalise
        if body.get("normalized") is False:
            vector = [x * (1.0 + count / 10) for x in vector]
        data.append({"object": "embedding", "index": index, "embedding": vectors.encode(vector, embedding_type)})
    usage = {"total_tokens": sum(counts), "prompt_tokens": sum(counts)}
    return Reply(body={"model": name, "object": "list", "usage": usage, "data": data})
