"""`POST /v1/rerank`, validated like the real API, with lexical (BM25-style) relevance scores.

Scores are BM25 term saturation and length normalisation squashed into [0, 1): the share of the
query's weight a document matches. For the pointwise models (v1, v2, m0, colbert) a score depends
only on the query and that one document, so scores of one query are comparable across requests,
as with the real cross-encoders. `jina-reranker-v3` is listwise: the real model reads the query and
all documents of a request together, and the emulator mirrors that by weighting query terms with
an idf computed over the request's documents, so its scores depend on the rest of the request.
"""

from __future__ import annotations

from typing import Any

from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.lexical import scores
from haystack_integrations.testing.jina.models import RERANKER_MODELS
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

MAX_DOCUMENTS = 2048
LISTWISE_MODELS = frozenset({"jina-reranker-v3"})
MULTIMODAL_MODELS = frozenset({"jina-reranker-m0"})


def _text(item: Any, what: str) -> str:
    """The text of a query or document given as a string or `{"text": ...}`."""
    if isinstance(item, dict) and set(item) == {"text"}:
        item = item["text"]
    if not isinstance(item, str):
        raise ApiError(422, f"{what} must be a string or {{'text': ...}}.")
    return item


def _documents(body: dict[str, Any], name: str) -> list[str]:
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise ApiError(422, "documents must be a non-empty list.")
    if len(documents) > MAX_DOCUMENTS:
        raise ApiError(422, f"documents has {len(documents)} items; at most {MAX_DOCUMENTS} are allowed per request.")
    texts = []
    for index, item in enumerate(documents):
        if isinstance(item, dict) and "image" in item:
            if name not in MULTIMODAL_MODELS:
                raise ApiError(422, f"{name} is a text reranker; documents[{index}] is an image.")
            raise ApiError(422, f"documents[{index}]: image documents are not supported by this emulator version.")
        texts.append(_text(item, f"documents[{index}]"))
    return texts


def _top_n(body: dict[str, Any]) -> int | None:
    top_n = body.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise ApiError(422, "top_n must be a positive integer.")
    return top_n


@route("POST", "/v1/rerank")
def rerank(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    name = body.get("model")
    if not isinstance(name, str) or name not in RERANKER_MODELS:
        raise ApiError(422, f"Unknown model {name!r}. Known rerankers: {', '.join(sorted(RERANKER_MODELS))}.")
    query = _text(body.get("query"), "query")
    if not query.strip():
        raise ApiError(422, "query must not be empty.")
    documents = _documents(body, name)
    top_n = _top_n(body)
    return_documents = body.get("return_documents", True)
    if not isinstance(return_documents, bool):
        raise ApiError(422, "return_documents must be a boolean.")

    query_tokens = len(vectors.tokens(query))
    tokens = [query_tokens + len(vectors.tokens(text)) for text in documents]
    # the real API truncates what exceeds the model's context and bills what it read
    limit = RERANKER_MODELS[name]
    total_tokens = sum(min(count, limit) for count in tokens)

    relevance = scores(query, documents, listwise=name in LISTWISE_MODELS)
    order = sorted(range(len(documents)), key=lambda i: (-relevance[i], i))[:top_n]
    results = []
    for index in order:
        result: dict[str, Any] = {"index": index, "relevance_score": relevance[index]}
        if return_documents:
            result["document"] = {"text": documents[index]}
        results.append(result)
    return Reply(body={"model": name, "usage": {"total_tokens": total_tokens}, "results": results})
