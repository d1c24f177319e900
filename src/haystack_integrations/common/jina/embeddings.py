"""The embeddings endpoint: request bodies, response validation, and embedding many documents at once."""

from __future__ import annotations

import base64
import copy
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from haystack import Document, logging

from haystack_integrations.common.jina.batching import map_ordered, progress
from haystack_integrations.common.jina.client import JinaClient, encode_json
from haystack_integrations.common.jina.errors import JinaError, JinaInputError, JinaMalformedResponseError

logger = logging.getLogger(__name__)

EMBEDDINGS_URL = "https://api.jina.ai/v1/embeddings"
MAX_INPUTS_PER_REQUEST = 2048
EMBEDDING_TYPES = ("float", "binary", "ubinary")

Embedding = list[float] | list[int]
T = TypeVar("T")


def check_embedding_type(embedding_type: str) -> None:
    if embedding_type not in EMBEDDING_TYPES:
        msg = f"embedding_type must be one of {', '.join(EMBEDDING_TYPES)}; got {embedding_type!r}"
        raise ValueError(msg)


REQUEST_OPTIONS = ("task", "dimensions", "late_chunking", "embedding_type", "normalized", "truncate")


def request_options(component: Any) -> dict[str, Any]:
    """
    The optional body fields, read from the component's attributes of the same names.

    `late_chunking=False` is left out: it means what leaving the field out means, and models without
    late chunking (v2, v5, clip, code) have no such field.
    """
    options = {name: getattr(component, name, None) for name in REQUEST_OPTIONS}
    if options["late_chunking"] is False:
        options["late_chunking"] = None
    return options


def embeddings_payload(model: str, inputs: Sequence[Any], options: dict[str, Any]) -> dict[str, Any]:
    """
    The request body. `options` holds the optional fields the user set (`None` values are dropped).

    Float vectors are asked for as base64: 4x fewer bytes on the wire and far cheaper to decode than JSON.
    """
    payload: dict[str, Any] = {"model": model, "input": list(inputs)}
    payload.update({key: value for key, value in options.items() if value is not None})
    if payload.get("embedding_type", "float") == "float":
        payload["embedding_type"] = "base64"
    return payload


@dataclass
class EmbeddingsResult:
    """The validated answer to one embeddings request."""

    vectors: list[Embedding]
    model: str | None
    usage: dict[str, int]


def parse_embeddings_response(body: Any, expected: int, endpoint: str) -> EmbeddingsResult:
    """
    Validate an embeddings answer and return its vectors in input order.

    Exactly one vector per input, indices 0..n-1 each once; anything else raises
    `JinaMalformedResponseError` rather than returning misaligned vectors.
    """

    def malformed(problem: str) -> JinaMalformedResponseError:
        message = f"Malformed embeddings response from {endpoint}: {problem}"
        return JinaMalformedResponseError(message, endpoint=endpoint)

    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise malformed("no 'data' list")
    if len(data) != expected:
        raise malformed(f"{len(data)} vectors for {expected} inputs")
    vectors: list[Embedding | None] = [None] * expected
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < expected:
            raise malformed(f"index {index!r} is not in 0..{expected - 1}")
        if vectors[index] is not None:
            raise malformed(f"index {index} appears twice")
        vectors[index] = _decode_vector(item.get("embedding"), malformed)
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    clean_usage = {key: int(value) for key, value in usage.items() if isinstance(value, int | float)}
    return EmbeddingsResult(vectors=vectors, model=body.get("model"), usage=clean_usage)  # type: ignore[arg-type]


def _decode_vector(raw: Any, malformed: Callable[[str], JinaMalformedResponseError]) -> Embedding:
    if isinstance(raw, str):  # base64 of little-endian float32
        try:
            packed = base64.b64decode(raw, validate=True)
        except ValueError:
            raise malformed("an embedding is not valid base64") from None
        if len(packed) % 4:
            raise malformed("a base64 embedding is not a whole number of float32 values")
        floats = array("f")
        floats.frombytes(packed)
        if sys.byteorder == "big":
            floats.byteswap()
        return floats.tolist()
    if isinstance(raw, list) and raw and all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw):
        return raw
    raise malformed("an embedding is missing or not a list of numbers")


def add_usage(total: dict[str, int], usage: dict[str, int]) -> None:
    for key, value in usage.items():
        total[key] = total.get(key, 0) + value


def check_each(
    documents: Sequence[Document], check: Callable[[Document], T], *, raise_on_failure: bool
) -> list[T | JinaInputError]:
    """
    Run a cheap per-document check before any request.

    With `raise_on_failure` the first `JinaInputError` is raised; otherwise it takes the document's place,
    for `unwrap` to raise in the request worker, where `embed_documents` reports it.
    """
    checked: list[T | JinaInputError] = []
    for document in documents:
        try:
            checked.append(check(document))
        except JinaInputError as error:
            if raise_on_failure:
                raise
            checked.append(error)
    return checked


def unwrap(checked: T | JinaInputError) -> T:
    """The checked value, or its input error raised."""
    if isinstance(checked, JinaInputError):
        raise checked
    return checked


@dataclass
class _RequestOutcome:
    vectors: list[Embedding] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    input_errors: dict[int, str] = field(default_factory=dict)
    model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


def embed_documents(
    client: JinaClient,
    url: str,
    documents: Sequence[Document],
    groups: Sequence[list[int]],
    make_input: Callable[[int], Any],
    *,
    model: str,
    options: dict[str, Any],
    max_concurrency: int,
    raise_on_failure: bool,
    progress_bar: bool,
    embedded_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """
    Embed documents in concurrent requests and return `{"documents": [...], "meta": {...}}`.

    :param groups: Positions into `documents`, one list per request (see the embedders for how they
        are formed). Requests run concurrently; the output keeps the input order.
    :param make_input: Turns a position into the request input (a string, `{"image": ...}`, ...).
        It runs in the worker just before the request, so heavy inputs exist only while in flight.
        It raises `JinaInputError` for an input that cannot be prepared.
    :param embedded_meta: Meta added to every embedded document (a fresh copy each, never shared).
    :returns: Copies of all input documents, in order, with `embedding` set where it succeeded. `meta`
        has the `model`, the summed `usage` and `failed_documents`: `{"id", "error"}` for each document
        that came back without an embedding (only possible with `raise_on_failure=False`).
    """

    if not documents:
        return {"documents": [], "meta": {"model": model, "usage": {}, "failed_documents": []}}

    def run_group(positions: list[int]) -> _RequestOutcome:
        outcome = _RequestOutcome()
        inputs = []
        for position in positions:
            try:
                inputs.append(make_input(position))
                outcome.sent.append(position)
            except JinaInputError as error:
                if raise_on_failure:
                    raise
                outcome.input_errors[position] = str(error)
        if inputs:
            # Serialized once, then the inputs are dropped: while the request waits for its answer only
            # the body's bytes are held (images are large: this halves the memory of a batch in flight).
            body = encode_json(embeddings_payload(model, inputs, options))
            inputs.clear()
            answer = client.post_json(url, body)
            del body
            result = parse_embeddings_response(answer, len(outcome.sent), url)
            outcome.vectors, outcome.model, outcome.usage = result.vectors, result.model, result.usage
        return outcome

    with progress(len(documents), enabled=progress_bar, desc="Calculating embeddings") as advance:
        outcomes = map_ordered(
            run_group,
            groups,
            max_concurrency=max_concurrency,
            on_done=lambda positions: advance(len(positions)),
            fail_fast=raise_on_failure,
        )

    embeddings: dict[int, Embedding] = {}
    errors: dict[int, str] = {}
    meta: dict[str, Any] = {"model": model, "usage": {}}
    for positions, outcome in zip(groups, outcomes, strict=True):
        if isinstance(outcome, Exception):
            if not isinstance(outcome, JinaError):
                raise outcome  # a bug, not an API failure: never swallow it
            ids = [documents[p].id for p in positions]
            logger.warning("Embedding failed for documents {ids}: {error}", ids=ids, error=str(outcome))
            errors.update(dict.fromkeys(positions, str(outcome)))
            continue
        embeddings.update(zip(outcome.sent, outcome.vectors, strict=True))
        errors.update(outcome.input_errors)
        if outcome.model:
            meta["model"] = outcome.model
        add_usage(meta["usage"], outcome.usage)

    output = []
    for position, document in enumerate(documents):
        if position in embeddings:
            new_meta = {**document.meta, **copy.deepcopy(embedded_meta or {})}
            # binary types give ints; Document.embedding is typed list[float] but stores them as they are
            embedding = cast(list[float], embeddings[position])
            output.append(replace(document, embedding=embedding, meta=new_meta))
        else:
            output.append(replace(document, meta=document.meta.copy()))
    meta["failed_documents"] = [{"id": documents[p].id, "error": errors[p]} for p in sorted(errors)]
    return {"documents": output, "meta": meta}


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        msg = f"batch_size must be at least 1, got {batch_size}"
        raise ValueError(msg)


def batch_positions(count: int, batch_size: int) -> list[list[int]]:
    """Positions 0..count-1 in consecutive groups of at most `batch_size`."""
    check_batch_size(batch_size)
    size = min(batch_size, MAX_INPUTS_PER_REQUEST)
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]
