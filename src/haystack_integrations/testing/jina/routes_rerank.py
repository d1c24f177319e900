"""`POST /v1/rerank`, validated like the real API, with lexical (BM25-style) relevance scores.

Scores are BM25 term saturation and length normalisation squashed into [0, 1): the share of the
query's weight a document matches. For the pointwise models (v1, v2, m0, colbert) a score depends
only on the query and that one document, so scores of one query are comparable across requests,
as with the real cross-encoders. `jina-reranker-v3` is listwise: the real model reads the query and
all documents of a request together, and the emulator mirrors that by weighting query terms with
an idf computed over the request's documents, so its scores depend on the rest of the request.

Images (`jina-reranker-m0` only, the one schema with `ImageDoc`): a document `{"image": <URL or plain
base64>}` is scored by the cosine of the query's and the image's vectors in the emulator's shared text and
image space (`images.py`, `concepts.py`: the colours a query names match images showing them), clipped to
[0, 1): deterministic, from the image's bytes, and independent of the other documents, like the text scores
of this pointwise model. Image documents are validated as for embeddings (plain base64 or a reachable
URL, no `data:` URI, at most 8 MB, decodable); each costs tokens by its 512x512 tiles (an emulator
convention: the spec gives no image pricing for rerank).

Models and fields come from the catalogue (Jina's OpenAPI request schemas). As for embeddings, a field
the model does not have is answered with 422: stricter than the API, which ignores it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from haystack_integrations.common.jina.models import MAX_DOC_LENGTH_RANGE, RERANK_MODELS, RerankModel
from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.lexical import scores
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

#: The spec names no maximum of documents per request; 2048 is the embeddings endpoint's usual bound.
MAX_DOCUMENTS = 2048
#: jina-reranker-v3's `max_doc_length` default (RerankerV3Request).
DEFAULT_MAX_DOC_LENGTH = 2048
#: The size of the vectors an image document and the query are compared with (those of jina-clip-v2).
IMAGE_SCORE_DIMENSIONS = 1024


@dataclass(frozen=True)
class ImageDocument:
    """An `ImageDoc` of the request: what was sent, and its relevance and tokens once scored."""

    image: str
    relevance: float
    tokens: int


def _model(body: dict[str, Any]) -> tuple[str, RerankModel]:
    name = body.get("model")
    if not isinstance(name, str) or name not in RERANK_MODELS:
        detail = f"Model {name!r} not found. Available rerankers: {', '.join(sorted(RERANK_MODELS))}."
        raise ApiError(400, detail, code="INPUT_MODEL_NOT_FOUND")
    known = RERANK_MODELS[name]
    for key in body:
        if key not in ("model", "query", "documents") and key not in known.fields:
            raise ApiError(
                422, f"{name} has no field {key!r}; it accepts: {', '.join(sorted(known.fields))}.", field=key
            )
    return name, known


def _text(item: Any, what: str) -> str:
    """The text of a document given as a string or `{"text": ...}`."""
    if isinstance(item, dict) and set(item) == {"text"}:
        item = item["text"]
    if not isinstance(item, str):
        raise ApiError(422, f"{what} must be a string or {{'text': ...}}.", field=what)
    return item


def _documents(
    body: dict[str, Any], name: str, model: RerankModel, query_vector_of: Callable[[], list[float]]
) -> list[str | ImageDocument]:
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise ApiError(422, "documents must be a non-empty list.", field="documents")
    if len(documents) > MAX_DOCUMENTS:
        raise ApiError(422, f"documents has {len(documents)} items; at most {MAX_DOCUMENTS} are allowed per request.")
    parsed: list[str | ImageDocument] = []
    query_vector: list[float] = []
    for index, item in enumerate(documents):
        if isinstance(item, dict) and "image" in item:
            if not model.images:
                raise ApiError(422, f"{name} is a text reranker; documents[{index}] is an image.")
            if set(item) != {"image"}:  # ImageDoc has one property (stricter than the schema, which allows more)
                raise ApiError(422, f"documents[{index}] must be {{'image': ...}} alone.", field=f"documents.{index}")
            query_vector = query_vector or query_vector_of()
            parsed.append(_image_document(item["image"], index, query_vector))
        else:
            parsed.append(_text(item, f"documents[{index}]"))
    return parsed


def _image_document(image: Any, index: int, query_vector: list[float]) -> ImageDocument:
    from haystack_integrations.testing.jina import images  # Pillow only when images are ranked

    vector, tokens = images.image_vector(image, index, IMAGE_SCORE_DIMENSIONS, array="documents")
    return ImageDocument(image, _closeness(query_vector, vector), tokens)


def _closeness(query_vector: list[float], vector: list[float]) -> float:
    """A relevance in [0, 1) from the cosine of two vectors of the shared text and image space."""
    cosine = math.fsum(map(operator.mul, query_vector, vectors.normalize(vector)))
    return min(max(cosine, 0.0), 0.999999)


def _image_query(query: dict[str, Any], name: str, model: RerankModel) -> tuple[list[float], int]:
    """A visual query (`RerankerM0Request.query` is "a text string, or an image object"): its vector and tokens."""
    if not model.images:
        raise ApiError(422, f"query must be a string for {name}: only jina-reranker-m0 takes an image query.")
    if set(query) != {"image"}:
        raise ApiError(422, "An image query must be {'image': <url|base64>} alone.", field="query")
    from haystack_integrations.testing.jina import images

    vector, tokens = images.image_vector(query["image"], 0, IMAGE_SCORE_DIMENSIONS, array="query")
    return vectors.normalize(vector), tokens


def _top_n(body: dict[str, Any]) -> int | None:
    top_n = body.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise ApiError(422, "top_n must be a positive integer.", field="top_n")
    return top_n


def _max_doc_length(body: dict[str, Any]) -> int | None:
    if "max_doc_length" not in body:
        return DEFAULT_MAX_DOC_LENGTH if body.get("model") in ("jina-reranker-v3", "jina-reranker-v3.5") else None
    value = body["max_doc_length"]  # `integer`, not nullable, in RerankerV3Request
    if not isinstance(value, int) or isinstance(value, bool) or value not in MAX_DOC_LENGTH_RANGE:
        raise ApiError(422, "max_doc_length must be an integer from 1 to 8192.", field="max_doc_length")
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(422, f"{name} must be a boolean.", field=name)
    return value


@route("POST", "/v1/rerank")
def rerank(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    name, model = _model(body)
    query = body.get("query")
    visual: tuple[list[float], int] | None = None
    if isinstance(query, dict):
        visual = _image_query(query, name, model)
    elif not isinstance(query, str):  # a string, or an ImageDoc for jina-reranker-m0 (2026.06.29)
        raise ApiError(422, "query must be a string.", field="query")
    elif not query.strip():
        raise ApiError(422, "query must not be empty.", field="query")

    def query_vector() -> list[float]:
        if visual is not None:
            return visual[0]
        return vectors.normalize(vectors.text_vector(str(query), IMAGE_SCORE_DIMENSIONS, multimodal=True))

    documents = _documents(body, name, model, query_vector)
    texts = {index: text for index, text in enumerate(documents) if isinstance(text, str)}
    top_n = _top_n(body)
    return_documents = _flag(body, "return_documents", True)
    _flag(body, "truncation", False)
    if _flag(body, "return_embeddings", False):
        raise ApiError(422, "The emulator does not return embeddings from rerank.", field="return_embeddings")
    max_doc_length = _max_doc_length(body)

    scored = texts
    if max_doc_length is not None:  # the model reads only the first max_doc_length tokens of each document
        scored = {index: " ".join(vectors.tokens(text)[:max_doc_length]) for index, text in texts.items()}
    query_tokens = visual[1] if visual is not None else len(vectors.tokens(str(query)))
    tokens = [
        query_tokens + (len(vectors.tokens(scored[i])) if isinstance(document, str) else document.tokens)
        for i, document in enumerate(documents)
    ]
    # the real API truncates what exceeds the model's context and bills what it read
    total_tokens = sum(min(count, model.context_length) for count in tokens)

    if visual is not None:  # texts are scored by their closeness to the image, as image documents are
        lexical = {
            index: _closeness(visual[0], vectors.text_vector(text, IMAGE_SCORE_DIMENSIONS, multimodal=True))
            for index, text in scored.items()
        }
    else:
        lexical = dict(zip(scored, scores(str(query), list(scored.values()), listwise=model.listwise), strict=True))
    relevance = [d.relevance if isinstance(d, ImageDocument) else lexical[i] for i, d in enumerate(documents)]
    order = sorted(range(len(documents)), key=lambda i: (-relevance[i], i))[:top_n]
    results = []
    for index in order:
        result: dict[str, Any] = {"index": index, "relevance_score": relevance[index]}
        if return_documents:
            document = documents[index]
            result["document"] = (
                {"image": document.image} if isinstance(document, ImageDocument) else {"text": document}
            )
        results.append(result)
    return Reply(body={"model": name, "usage": {"total_tokens": total_tokens}, "results": results})
