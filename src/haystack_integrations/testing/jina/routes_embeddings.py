"""`POST /v1/embeddings`, validated against the model catalogue (Jina's OpenAPI request schemas).

Stricter than the API on purpose: the published schemas do not forbid extra fields, so the real API
ignores a field the model does not have (`late_chunking` on v2, `normalized` on v4). The emulator
answers 422 instead, so tests catch requests that would silently not do what their author meant.
"""

from __future__ import annotations

from typing import Any

from haystack_integrations.common.jina.models import EMBEDDING_MODELS, EmbeddingModel, describe_dimensions
from haystack_integrations.testing.jina import expansion, vectors
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

#: The spec names no maximum of inputs per request; 2048 is what other clients use.
MAX_INPUTS = 2048
EMBEDDING_TYPES = ("float", "base64", "binary", "ubinary")
LATE_CHUNKING_CONTEXT_WEIGHT = 0.5
#: Fields whose schema is `boolean | null`.
_FLAGS = ("late_chunking", "normalized", "truncate", "return_multivector", "return_tokenized_input")


def _model(body: dict[str, Any]) -> tuple[str, EmbeddingModel]:
    name = body.get("model")
    if not isinstance(name, str) or name not in EMBEDDING_MODELS:
        detail = f"Model {name!r} not found. Available models: {', '.join(sorted(EMBEDDING_MODELS))}."
        raise ApiError(400, detail, code="INPUT_MODEL_NOT_FOUND")
    return name, EMBEDDING_MODELS[name]


def _check_options(body: dict[str, Any], name: str, model: EmbeddingModel) -> None:
    for key in body:
        if key not in ("model", "input") and key not in model.fields:
            accepted = ", ".join(sorted(model.fields))
            raise ApiError(422, f"{name} has no field {key!r}; it accepts: {accepted}.", field=key)
    task = body.get("task")
    if task is not None and task not in model.tasks:
        allowed = ", ".join(model.tasks) or "none"
        raise ApiError(422, f"task {task!r} is not supported by {name}; supported tasks: {allowed}.", field="task")
    dimensions = body.get("dimensions")
    if dimensions is not None and model.dimensions is not None and not _is_one_of(dimensions, model.dimensions):
        allowed = describe_dimensions(model.dimensions)
        raise ApiError(422, f"dimensions must be one of {allowed} for {name}.", field="dimensions")
    embedding_type = body.get("embedding_type")
    if embedding_type is not None and embedding_type not in EMBEDDING_TYPES:
        detail = f"embedding_type must be one of {', '.join(EMBEDDING_TYPES)} (the emulator does not take lists)."
        raise ApiError(422, detail, field="embedding_type")
    for flag in _FLAGS:
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            raise ApiError(422, f"{flag} must be a boolean.", field=flag)
    if body.get("return_multivector") or body.get("return_tokenized_input"):
        raise ApiError(422, "The emulator does not answer multi-vector embeddings of jina-embeddings-v4.")
    input_type = body.get("input_type")
    if input_type is not None and input_type not in ("query", "document"):
        raise ApiError(422, "input_type must be 'query' or 'document'.", field="input_type")


def _is_one_of(value: Any, allowed: range | tuple[int, ...]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in allowed


def _shares_text_space(model: EmbeddingModel) -> bool:
    """Whether texts get the colour concepts images share: every image model, and v5-text, whose text
    vectors are those of v5-omni ("text inputs give exactly the vectors of the matching v5-text model")."""
    return model.images or model.schema == "EmbeddingsV5Request"


def _vector_for(
    item: Any, index: int, name: str, model: EmbeddingModel, task: str | None
) -> tuple[list[float], int, dict[str, int]]:
    """The raw vector of one input, its token count, and that count per usage field (`prompt_tokens`, ...)."""
    if isinstance(item, dict) and set(item) == {"text"}:
        item = item["text"]
    if isinstance(item, str):
        if not item.strip():
            raise ApiError(422, f"input[{index}] is an empty string.", field=f"input.{index}")
        vector = vectors.text_vector(item, model.native_dimensions, task, multimodal=_shares_text_space(model))
        count = len(vectors.tokens(item))
        return vector, count, {"prompt_tokens": count}
    if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("image", "pdf", "audio", "video"):
        kind = next(iter(item))
        if kind not in model.modalities:
            takers = ", ".join(sorted(n for n, m in EMBEDDING_MODELS.items() if kind in m.modalities))
            detail = f"{name} does not take {kind} inputs; input[{index}] is one. Models that do: {takers}."
            raise ApiError(422, detail, field=f"input.{index}")
        from haystack_integrations.testing.jina import images, media

        if kind == "image":
            vector, count = images.image_vector(item["image"], index, model.native_dimensions)
        elif kind == "pdf":
            vector, count = images.pdf_vector(item["pdf"], index, model.native_dimensions)
        else:
            vector, count = media.media_vector(item[kind], kind, index, model.native_dimensions)
        return (
            vector,
            count,
            {f"{'image' if kind == 'pdf' else kind}_tokens": count},
        )  # "PDF pages count as image tokens"
    if isinstance(item, dict) and set(item) == {"content"} and model.media:
        return _group_vector(item["content"], index, name, model, task)
    kinds = "a string, {'text': ...} or {'image': ...}" if model.images else "a string or {'text': ...}"
    if model.media:
        kinds = "a string or one of {'text'}, {'image'}, {'audio'}, {'video'}, {'content': [...]}"
    raise ApiError(422, f"input[{index}] must be {kinds}.", field=f"input.{index}")


#: Each chunk of a group weighs a little less than the one before: "re-ordering may change the resulting embedding".
GROUP_ORDER_DECAY = 0.9


def _group_vector(
    content: Any, index: int, name: str, model: EmbeddingModel, task: str | None
) -> tuple[list[float], int, dict[str, int]]:
    """A `MergedContentGroup`: its chunks fused into one vector; each chunk's tokens count in its own field."""
    if not isinstance(content, list) or not content:
        raise ApiError(422, f"input[{index}].content must be a non-empty list.", field=f"input.{index}.content")
    fused = [0.0] * model.native_dimensions
    total, breakdown = 0, dict[str, int]()
    for position, chunk in enumerate(content):
        if isinstance(chunk, dict) and "pdf" in chunk:
            detail = (
                f"input[{index}].content[{position}] is a PDF: PDFs are not allowed inside content; "
                "send PDFs as standalone single-input requests."
            )
            raise ApiError(422, detail, field=f"input.{index}.content.{position}")
        if (
            not isinstance(chunk, dict)
            or len(chunk) != 1
            or next(iter(chunk)) not in ("text", "image", "audio", "video")
        ):
            detail = f"input[{index}].content[{position}] must be a TextDoc, ImageDoc, VideoDoc or AudioDoc."
            raise ApiError(422, detail, field=f"input.{index}.content.{position}")
        vector, count, fields = _vector_for(chunk, index, name, model, task)
        fused = vectors.mix(fused, vectors.normalize(vector), GROUP_ORDER_DECAY**position)
        total += count
        for field, tokens in fields.items():
            breakdown[field] = breakdown.get(field, 0) + tokens
    return fused, total, breakdown


def _inputs(body: dict[str, Any]) -> list[Any]:
    inputs = body.get("input")
    if isinstance(inputs, str | dict):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(422, "input must be a non-empty list.", field="input")
    if len(inputs) > MAX_INPUTS:
        raise ApiError(422, f"input has {len(inputs)} items; at most {MAX_INPUTS} are allowed per request.")
    return inputs


@route("POST", "/v1/embeddings")
def embeddings(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    name, model = _model(body)
    inputs = _inputs(body)
    if isinstance(body.get("input"), list) and any(isinstance(item, dict) and "pdf" in item for item in inputs):
        raise ApiError(422, "PDFs must be sent individually: input is one {'pdf': ...}, not a list.", field="input")
    if isinstance(body.get("input"), dict) and "content" in body["input"]:
        # the spec's `input` takes a MergedContentGroup only as a list item
        raise ApiError(422, "A {'content': [...]} group must be an item of a list.", field="input")
    _check_options(body, name, model)
    if model.output == "multivector":
        return _multivector(body, name, model, inputs)
    if model.output == "sparse":
        return _sparse(body, name, model, inputs)
    task = body.get("task")
    truncate = body.get("truncate") or False

    raw, counts, breakdowns = [], [], []
    for index, item in enumerate(inputs):
        vector, count, breakdown = _vector_for(item, index, name, model, task)
        if count > model.context_length:
            if not truncate:
                # the spec's INPUT_TOKEN_LIMIT_EXCEEDED (2026.06.29); like the API's, the detail names no input
                detail = f"Input text exceeds the model's maximum of {model.context_length} tokens"
                raise ApiError(400, detail, code="INPUT_TOKEN_LIMIT_EXCEEDED")
            count = model.context_length  # the real API cuts the text; the emulator only caps the count
            breakdown = {"prompt_tokens": count}
        raw.append(vector)
        counts.append(count)
        breakdowns.append(breakdown)

    if body.get("late_chunking"):
        if any(isinstance(item, dict) and "text" not in item for item in inputs):
            raise ApiError(422, "late_chunking works with text inputs only.", field="late_chunking")
        total = sum(counts)
        if total > model.context_length:
            raise ApiError(
                422,
                f"With late_chunking all inputs of a request form one text: {total} tokens exceed "
                f"the {model.context_length} {name} accepts.",
            )
        unit = [vectors.normalize(v) for v in raw]
        context = vectors.normalize([sum(column) for column in zip(*unit, strict=True)])
        raw = [vectors.mix(v, context, LATE_CHUNKING_CONTEXT_WEIGHT) for v in unit]

    dimensions = body.get("dimensions") or model.native_dimensions
    embedding_type = body.get("embedding_type") or "float"
    data = []
    for index, (full, count) in enumerate(zip(raw, counts, strict=True)):
        vector = vectors.normalize(full[:dimensions])  # Matryoshka: truncate, then renormalise
        if body.get("normalized") is False:
            vector = [x * (1.0 + count / 10) for x in vector]
        data.append({"object": "embedding", "index": index, "embedding": vectors.encode(vector, embedding_type)})
    if model.media:
        return _answer(name, data, counts, breakdowns)
    return _answer(name, data, counts)


def _texts(inputs: list[Any], name: str) -> list[str]:
    texts = []
    for index, item in enumerate(inputs):
        text = item["text"] if isinstance(item, dict) and set(item) == {"text"} else item
        if not isinstance(text, str) or not text.strip():
            raise ApiError(422, f"input[{index}] must be a non-empty string or {{'text': ...}} for {name}.")
        texts.append(text)
    return texts


def _multivector(body: dict[str, Any], name: str, model: EmbeddingModel, inputs: list[Any]) -> Reply:
    """ColBERT: one vector per token (`MultiEmbeddingData`); queries and documents get different vectors."""
    dimensions = body.get("dimensions") or model.native_dimensions
    role = body.get("input_type") or "document"  # the spec's default
    embedding_type = body.get("embedding_type") or "float"
    data, counts = [], []
    for index, text in enumerate(_texts(inputs, name)):
        words = vectors.tokens(text)[: model.context_length]
        per_token = [
            vectors.encode(vectors.normalize(vectors.text_vector(word, dimensions, role)), embedding_type)
            for word in words
        ]
        data.append({"object": "embeddings", "index": index, "embeddings": per_token})
        counts.append(len(words))
    return _answer(name, data, counts)


def _sparse(body: dict[str, Any], name: str, model: EmbeddingModel, inputs: list[Any]) -> Reply:
    """ELSER: a weight per token with expansion terms (`expansion.py`), and the usage shape the spec gives it."""
    if body.get("embedding_type") not in (None, "float"):
        # the spec does not say what a base64 or binary sparse answer looks like: stricter than the API
        raise ApiError(422, f"The emulator answers {name} only as token weights (embedding_type float).")
    data, counts, outputs = [], [], 0
    for index, text in enumerate(_texts(inputs, name)):
        weights, count = expansion.sparse_weights(text, body.get("task"), model.context_length)
        data.append({"object": "embedding", "index": index, "embedding": weights})
        counts.append(count)
        outputs += len(weights)
    # ELSERV2EmbeddingUsage; the spec does not define total_tokens for it: assumed to be the tokens read
    usage = {"total_tokens": sum(counts), "input_tokens": sum(counts), "output_tokens": outputs}
    return Reply(body={"model": name, "object": "list", "usage": usage, "data": data})


def _answer(
    name: str, data: list[dict[str, Any]], counts: list[int], breakdowns: list[dict[str, int]] | None = None
) -> Reply:
    """The answer; with `breakdowns` (v5-omni) usage splits the tokens per modality: total == prompt + image + ..."""
    usage = {"total_tokens": sum(counts), "prompt_tokens": sum(counts)}
    if breakdowns is not None:
        usage["prompt_tokens"] = 0
        for breakdown in breakdowns:
            for field, tokens in breakdown.items():
                usage[field] = usage.get(field, 0) + tokens
    return Reply(body={"model": name, "object": "list", "usage": usage, "data": data})
