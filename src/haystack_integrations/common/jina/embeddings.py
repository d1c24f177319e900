"""The embeddings endpoint: request bodies, response validation, and embedding many documents at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, cast

from haystack import Document

from haystack_integrations.common.jina.answer_checks import (
    MAX_NUMBER,
    add_usage,
    answer_data,
    clean_usage,
    data_index,
    is_finite_number,
    malformed_answer,
    no_data_problem,
)
from haystack_integrations.common.jina.batches import Job, consecutive_groups, run_job
from haystack_integrations.common.jina.documents import (
    check_each,
    embedded_copy,
    failed_documents,
    image_size_of,
    text_size,
    text_to_embed,
    unwrap,
)
from haystack_integrations.common.jina.endpoints import called_endpoint
from haystack_integrations.common.jina.errors import (
    JinaBadRequestError,
    JinaError,
    JinaInputTooLongError,
    with_hint,
)
from haystack_integrations.common.jina.gc_pause import gc_paused
from haystack_integrations.common.jina.http.body import encode_json
from haystack_integrations.common.jina.http.client import JinaClient
from haystack_integrations.common.jina.http.settings import check_count
from haystack_integrations.common.jina.images import ImageSource, ImageURL
from haystack_integrations.common.jina.models import EMBEDDING_MODELS, context_length
from haystack_integrations.common.jina.vectors import (
    Embedding,
    check_lengths,
    checked_vector,
    decode_vector,
    float32_list,
)

EMBEDDINGS_URL = "https://api.jina.ai/v1/embeddings"
MAX_INPUTS_PER_REQUEST = 2048
EMBEDDING_TYPES = ("float", "binary", "ubinary")

T = TypeVar("T")
V = TypeVar("V")


def check_embedding_type(embedding_type: str) -> None:
    if embedding_type not in EMBEDDING_TYPES:
        msg = f"embedding_type must be one of {', '.join(EMBEDDING_TYPES)}; got {embedding_type!r}"
        raise ValueError(msg)


def check_dimensions(value: Any, name: str = "dimensions") -> int | None:
    """`None` or a positive whole number (an integral float from YAML becomes an int); else `ValueError`."""
    return check_count(value, name)


def expected_length(dimensions: int | None, embedding_type: str | None) -> int | None:
    """How many values a vector of `dimensions` has on the wire: binary types pack 8 dimensions per value."""
    if dimensions is None:
        return None
    if embedding_type in ("binary", "ubinary"):
        return math.ceil(dimensions / 8)
    return dimensions


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
    if len(inputs) == 1 and isinstance(inputs[0], dict) and "pdf" in inputs[0]:
        payload["input"] = inputs[0]  # the spec: "PDFs must be sent individually" (a PDFDoc, never in a list)
    payload.update({key: value for key, value in options.items() if value is not None})
    if payload.get("embedding_type", "float") == "float":
        payload["embedding_type"] = "base64"
    return payload


#: Words of an error detail about an input longer than the model's context. Jina's reference says only that
#: without `truncate` such input "returns an error", not its status or wording: any 4xx other than auth and
#: rate limits (`JinaBadRequestError`, 400 or 422 likely) whose detail has one of these words gets the hint.
#: They cover the emulator's ("... has N tokens, more than the 8192 ... accepts"), the spec's "max token
#: limit" and the usual phrasings of "too long" errors.
#: An over-long input's rejection names a length and says it is over (the spec gives no wording: e.g. its
#: 422 "max token limit"); both are needed, so a 400 about a bad token or field is not given the hint.
OVER_LONG_WORDS = ("token", "length", "context")
OVER_WORDS = ("too long", "exceed", "max", "limit", "longer", "more than", "over")


async def post_embeddings(
    client: JinaClient, url: str, body: Any, model: str, options: dict[str, Any], *, size: tuple[int, int] | None = None
) -> Any:
    """POST one embeddings request; a rejection of an over-long input says that `truncate=True` fixes it."""
    try:
        return await client.post_json_async(url, body, size=size)
    except JinaBadRequestError as error:
        raise _truncate_hint(error, model, options) from None


def _truncate_hint(error: JinaBadRequestError, model: str, options: dict[str, Any]) -> JinaError:
    known = EMBEDDING_MODELS.get(model)
    detail = (error.detail or "").lower()
    if (
        "truncate" not in options  # a component without the parameter (images) cannot follow the hint
        or options["truncate"] is True
        or (known is not None and "truncate" not in known.fields)
        or "late_chunking" in detail  # the inputs of one request count together: truncating one does not help
        or (
            not isinstance(error, JinaInputTooLongError)  # its code says what the words may not
            and (not any(word in detail for word in OVER_LONG_WORDS) or not any(word in detail for word in OVER_WORDS))
        )
    ):
        return error
    return with_hint(
        error,
        f"an input is probably longer than {model}'s context ({context_length(model)} tokens): pass "
        "truncate=True to let the API cut over-long inputs, or split the texts (e.g. with DocumentSplitter).",
    )


def _rejection_hints(
    error: JinaBadRequestError, sent: list[int], documents: Sequence[Document], model: str, options: dict[str, Any]
) -> JinaError:
    """A rejection of a request as the embedders report it: the truncate hint, then the likely over-long document."""
    hinted = _truncate_hint(error, model, options)
    if isinstance(error, JinaInputTooLongError):  # the API does not say which input: name the likely one
        hinted = with_hint(hinted, _too_long_culprit(documents, sent))
    return hinted


@dataclass
class EmbeddingsResult(Generic[V]):
    """The validated answer to one embeddings request: dense vectors, or `SparseEmbedding`s (see `sparse.py`)."""

    vectors: list[V]
    model: str | None
    usage: dict[str, int]


def parse_embeddings_response(
    body: Any, expected: int, endpoint: str, *, dimensions: int | None = None, embedding_type: str | None = None
) -> EmbeddingsResult[Embedding]:
    """
    Validate an embeddings answer and return its vectors in input order.

    Exactly one vector per input, indices 0..n-1 each once, all of one non-zero length (the requested
    `dimensions`, packed 8 per value for binary types), every value finite; anything else raises
    `JinaMalformedResponseError` rather than returning misaligned or corrupt vectors.
    """

    malformed = malformed_answer("embeddings", called_endpoint(endpoint), body)
    data = answer_data(body, expected, "vectors", malformed)
    vectors: list[Embedding | None] = [None] * expected
    for item in data:
        index = data_index(item.get("index") if isinstance(item, dict) else None, vectors, malformed)
        vectors[index] = decode_vector(item.get("embedding"), malformed)
    check_lengths(cast(list[Embedding], vectors), expected_length(dimensions, embedding_type), malformed)
    model = body.get("model") if isinstance(body.get("model"), str) else None
    return EmbeddingsResult(vectors=vectors, model=model, usage=clean_usage(body.get("usage")))  # type: ignore[arg-type]


def _parse_dense(body: Any, expected: int, endpoint: str, options: Mapping[str, Any]) -> EmbeddingsResult[Any]:
    return parse_embeddings_response(
        body, expected, endpoint, dimensions=options.get("dimensions"), embedding_type=options.get("embedding_type")
    )


@dataclass(frozen=True)
class EmbeddingFormat:
    """
    One kind of embedding, for `embed_documents`: the body it sends, how it reads the answer, the field it fills.

    `payload(model, inputs, options)` builds the request body; `parse(body, expected, endpoint, options)`
    validates the answer into an `EmbeddingsResult`; `document_field` names the Document field the results go to.
    """

    payload: Callable[[str, Sequence[Any], dict[str, Any]], dict[str, Any]]
    parse: Callable[[Any, int, str, Mapping[str, Any]], EmbeddingsResult[Any]]
    document_field: str = "embedding"


#: Dense vectors into `Document.embedding` (floats travel as base64).
DENSE = EmbeddingFormat(payload=embeddings_payload, parse=_parse_dense)


async def embed_one(
    client: JinaClient,
    url: str,
    model: str,
    item: Any,
    options: dict[str, Any],
    embedding_format: EmbeddingFormat = DENSE,
    *,
    encoded: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """
    Embed one input (a text, or a media item): its vector and `meta` with the `model` and the `usage`.

    A rejection of an over-long text says that `truncate=True` fixes it, where the component has `truncate`.

    :param encoded: Send the body as `encode_json` makes it (base64 `bytes` values, a media file's, travel
        without a copy).
    """
    payload = embedding_format.payload(model, [item], options)
    body = await post_embeddings(client, url, encode_json(payload) if encoded else payload, model, options)
    result = embedding_format.parse(body, 1, url, options)
    return result.vectors[0], {"model": result.model or model, "usage": result.usage}


async def embed_documents(
    client: JinaClient,
    url: str,
    documents: Sequence[Document],
    groups: Sequence[list[int]],
    make_input: Callable[[int], Any],
    *,
    model: str,
    options: dict[str, Any],
    raise_on_failure: bool,
    progress_bar: bool,
    size_of: Callable[[list[int]], tuple[int, int]],
    prepare_in_thread: bool = False,
    embedded_meta: dict[str, Any] | None = None,
    embedding_format: EmbeddingFormat = DENSE,
    images: Mapping[int, ImageSource | ImageURL] | None = None,
    image_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """
    Embed documents in concurrent requests (see `batches.run_job`) and return `{"documents": [...], "meta": {...}}`.

    :param groups: Positions into `documents`, one list per request (see the embedders for how they
        are formed). Requests run concurrently; the output keeps the input order.
    :param make_input: Turns a position into the request input (a string, `{"image": ...}`, ...).
        It runs once the request has its slots, so heavy inputs exist only while in flight.
        It raises `JinaInputError` for an input that cannot be prepared.
    :param size_of: Characters and images of a group's inputs, for the pacer's estimate before they exist.
    :param prepare_in_thread: Run `make_input` in a worker thread (it blocks).
    :param embedded_meta: Meta added to every embedded document (a fresh copy each, never shared).
    :param embedding_format: The request body, answer parser and Document field: `DENSE` (the default) or
        `sparse.SPARSE`. A failed document has that field cleared and keeps the others.
    :param images: Positions whose input is an image, prepared per request in parallel instead of `make_input`.
    :param image_size: The box those images are shrunk to fit.
    :returns: Copies of all input documents, in order, with `embedding` set where it succeeded (each
        meta a new dict; nested values shared with the input: see `embedded_copy`). `meta` has the `model`
        and the summed `usage`, as the published package's; with `raise_on_failure=False` also
        `failed_documents`: `{"id", "error"}` for each document that came back without an embedding.
    """
    # failures raise with raise_on_failure=True: a list of them would always be empty
    failures: dict[str, Any] = {} if raise_on_failure else {"failed_documents": []}
    if not documents:
        return {"documents": [], "meta": {"model": model, "usage": {}, **failures}}

    def parse(answer: Any, count: int) -> tuple[list[Any], str | None, dict[str, int]]:
        result = embedding_format.parse(answer, count, url, options)
        return result.vectors, result.model, result.usage

    job: Job[Any] = Job(
        url=url,
        input_of=make_input,
        body=lambda inputs: embedding_format.payload(model, inputs, options),
        parse=parse,
        size_of=size_of,
        images=images or {},
        image_size=image_size,
        in_thread=prepare_in_thread,
        on_rejected=lambda error, sent: _rejection_hints(error, sent, documents, model, options),
        ids=[document.id for document in documents],
        what="Calculating embeddings",
        # late chunking: a request's inputs are read as one text, so its group is sent (and fails) whole
        whole=bool(options.get("late_chunking")),
    )
    outcome = await run_job(client, job, groups, raise_on_failure=raise_on_failure, progress_bar=progress_bar)
    field = embedding_format.document_field
    cleared: dict[str, Any] = {field: None}
    with gc_paused():  # a large output: collections here find nothing to free (see gc_pause)
        output = [
            embedded_copy(document, outcome.values[position], embedded_meta, field=field)
            if position in outcome.values
            # failed: an embedding it came with is not this model's answer, and must not be stored as one
            else replace(document, **cleared, meta=document.meta.copy())
            for position, document in enumerate(documents)
        ]
    meta: dict[str, Any] = {"model": outcome.model or model, "usage": outcome.usage}
    if not raise_on_failure:
        meta["failed_documents"] = failed_documents(documents, outcome.errors)
    return {"documents": output, "meta": meta}


def _too_long_culprit(documents: Sequence[Document], sent: list[int]) -> str:
    """Which document of a request refused as too long is the likely one: the API's detail does not say."""
    if not sent:
        return "no document of the request could be named"
    longest = max(sent, key=lambda p: len(documents[p].content or ""))
    others = len(sent) - 1
    return (
        f"Document {documents[longest].id} is the longest text of the request "
        f"({len(documents[longest].content or '')} characters"
        + (f", with {others} other documents)" if others else ")")
    )


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        msg = f"batch_size must be at least 1, got {batch_size}"
        raise ValueError(msg)


def batch_positions(count: int, batch_size: int) -> list[list[int]]:
    """Positions 0..count-1 in consecutive groups of at most `batch_size`."""
    check_batch_size(batch_size)
    return consecutive_groups(count, min(batch_size, MAX_INPUTS_PER_REQUEST))


# Also the answer checks and document plumbing that lived here before (they have their own modules now).
__all__ = [
    "DENSE",
    "EMBEDDINGS_URL",
    "EMBEDDING_TYPES",
    "MAX_INPUTS_PER_REQUEST",
    "MAX_NUMBER",
    "OVER_LONG_WORDS",
    "OVER_WORDS",
    "REQUEST_OPTIONS",
    "Embedding",
    "EmbeddingFormat",
    "EmbeddingsResult",
    "add_usage",
    "answer_data",
    "batch_positions",
    "check_batch_size",
    "check_dimensions",
    "check_each",
    "check_embedding_type",
    "checked_vector",
    "clean_usage",
    "data_index",
    "embed_documents",
    "embed_one",
    "embedded_copy",
    "embeddings_payload",
    "expected_length",
    "float32_list",
    "image_size_of",
    "is_finite_number",
    "malformed_answer",
    "no_data_problem",
    "parse_embeddings_response",
    "post_embeddings",
    "request_options",
    "text_size",
    "text_to_embed",
    "unwrap",
]
