"""The rerank endpoint's wire format: the request body, and the answer checked into scores by position."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haystack_integrations.common.jina.answer_checks import (
    clean_usage,
    is_finite_number,
    malformed_answer,
    no_data_problem,
)
from haystack_integrations.common.jina.endpoints import called_endpoint
from haystack_integrations.common.jina.models import RERANK_MODELS

RERANK_URL = "https://api.jina.ai/v1/rerank"
#: Jina's API reference gives no documents-per-request limit for rerank; 2048 is the limit of its
#: embeddings endpoint, used here as a safe bound. Longer candidate lists are split (see `JinaRanker`).
MAX_DOCUMENTS_PER_REQUEST = 2048

#: Names of models that score the documents of one request together (their scores depend on the
#: request), for models the catalogue does not know yet; known ones say it in the catalogue.
LISTWISE_MODEL_PREFIXES = ("jina-reranker-v3",)


def is_listwise(model: str) -> bool:
    known = RERANK_MODELS.get(model)
    return known.listwise if known is not None else model.startswith(LISTWISE_MODEL_PREFIXES)


@dataclass
class RerankResult:
    """The validated answer to one rerank request."""

    scores: dict[int, float]  # position in the request's documents -> relevance score
    model: str | None
    usage: dict[str, int]


def rerank_payload(
    model: str,
    query: str | dict[str, Any],
    documents: Sequence[str | dict[str, Any]],
    top_n: int | None,
    max_doc_length: int | None = None,
) -> dict[str, Any]:
    """
    The request body. We hold the documents already, so the API is asked not to send them back.

    :param query: A text, or a visual query `{"image": <URL or plain base64>}` (jina-reranker-m0).
    :param documents: Texts as strings, images as `{"image": <URL or plain base64>}` (the spec's `ImageDoc`).
    """
    payload: dict[str, Any] = {"model": model, "query": query, "documents": list(documents), "return_documents": False}
    if top_n is not None:
        payload["top_n"] = top_n
    if max_doc_length is not None:
        payload["max_doc_length"] = max_doc_length
    return payload


def parse_rerank_response(body: Any, expected: int, documents: int, endpoint: str) -> RerankResult:
    """
    Validate a rerank answer.

    :param expected: How many results were asked for: `min(top_n, documents)`.
    :param documents: How many documents the request carried (the valid index range).
    :raises JinaMalformedResponseError: Unless there are `expected` results, each with an index in
        `0..documents-1` that appears once and a finite numeric `relevance_score`.
    """

    malformed = malformed_answer("rerank", called_endpoint(endpoint), body)

    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise malformed(no_data_problem(body, "results"))
    if len(results) != expected:
        raise malformed(f"{len(results)} results where {expected} were asked for")
    scores: dict[int, float] = {}
    for item in results:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < documents:
            raise malformed(f"index {index!r} is not in 0..{documents - 1}")
        if index in scores:
            raise malformed(f"index {index} appears twice")
        score = item.get("relevance_score")
        if not is_finite_number(score):  # a huge int would raise OverflowError in float()
            raise malformed(f"result for index {index} has no numeric relevance_score (got {score!r})")
        scores[index] = float(score)
    model = body.get("model") if isinstance(body.get("model"), str) else None
    return RerankResult(scores=scores, model=model, usage=clean_usage(body.get("usage")))
