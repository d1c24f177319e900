"""`POST /v1/rerank`, validated like the real API, with lexical (BM25-style) relevance scores.

Scores are BM25 term saturation and length normalisation squashed into [0, 1): the share of the
query's weight a document matches. For the pointwise models (v1, v2, m0, colbert) a score depends
only on the query and that one document, so scores of one query are comparable across requests,
as with the real cross-encoders. `jina-reranker-v3` is listwise: the real model reads the query and
all documents of a request together, and the emulator mirrors that by weighting query terms with
an idf computed over the request's documents, so its scores depend on the rest of the request.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.models import RERANKER_MODELS
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, route

MAX_DOCUMENTS = 2048
LISTWISE_MODELS = frozenset({"jina-reranker-v3"})
MULTIMODAL_MODELS = frozenset({"jina-reranker-m0"})

K1 = 1.2
B = 0.75
AVERAGE_LENGTH = 64.0  # words; the pointwise models' fixed "corpus" average, so a score needs no other document
STOPWORD_WEIGHT = 0.1
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = """
a an and are as at be by can do does for from has have how i in is it its of on or that the this to
was what when where which who why will with you your
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _stem(word: str) -> str:
    """A crude plural folding, enough for 'transformers' to match 'transformer'."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(text.lower())]


def _text(item: Any, what: str) -> str:
    """The text of a query or document given as a string or `{"text": ...}`."""
    if isinstance(item, dict) and set(item) == {"text"}:
        item = item["text"]
    if not isinstance(item, str):
        raise ApiError(422, f"{what} must be a string or {{'text': ...}}.")
    return item


def _body(request: RecordedRequest) -> dict[str, Any]:
    try:
        body = request.json
    except ValueError:
        raise ApiError(400, "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(422, "Request body must be a JSON object.")
    return body


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


def scores(query: str, documents: list[str], *, listwise: bool = False) -> list[float]:
    """The relevance of each document to the query, in [0, 1)."""
    query_counts = Counter(terms(query))
    doc_terms = [Counter(terms(text)) for text in documents]
    lengths = [sum(counts.values()) for counts in doc_terms]
    weights: dict[str, float] = {}
    if listwise:
        count = len(documents)
        average = (sum(lengths) / count) or 1.0
        for term, repeats in query_counts.items():
            df = sum(1 for counts in doc_terms if term in counts)
            weights[term] = repeats * math.log(1 + (count - df + 0.5) / (df + 0.5))
    else:
        average = AVERAGE_LENGTH
        for term, repeats in query_counts.items():
            weights[term] = repeats * (STOPWORD_WEIGHT if term in STOPWORDS else 1.0)
    best = sum(weights.values()) * (K1 + 1)
    if not best:
        return [0.0] * len(documents)
    result = []
    for counts, length in zip(doc_terms, lengths, strict=True):
        norm = K1 * (1 - B + B * length / average)
        raw = sum(weight * counts[term] * (K1 + 1) / (counts[term] + norm) for term, weight in weights.items())
        result.append(raw / best)
    return result


@route("POST", "/v1/rerank")
def rerank(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = _body(request)
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
