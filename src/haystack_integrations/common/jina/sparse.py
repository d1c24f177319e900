"""Sparse embeddings (elser-v2): the request body, the answer's token weights, and tokens mapped to indices.

ELSER answers, per input, a mapping from token (a string) to weight. Haystack's `SparseEmbedding` holds
integer `indices`, and the stores that search sparse vectors (Qdrant, Milvus) need queries and documents
in one integer space, today and in every later release. The mapping below is therefore a public,
versioned contract:

    index(token) = int.from_bytes(BLAKE2b(UTF-8 bytes of token, digest_size=4), "big") & 0x7FFFFFFF

BLAKE2b (RFC 7693) with a 4-byte digest, read big-endian, cut to 31 bits so the index fits every store's
index type (Qdrant: unsigned 32-bit; Milvus: [0, 2^32 - 1); Java / C# clients: signed 32-bit). The token
is hashed exactly as the API spells it (no case folding, no Unicode normalization). Tokens that collide
are merged by keeping the larger weight. Python's `hash()` is never used: it changes with
`PYTHONHASHSEED`. The name `TOKEN_INDEX_MAPPING` is written into the meta of every sparse embedding this
package makes; a future mapping would get a new name, never a changed meaning for this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from haystack.dataclasses import SparseEmbedding

from haystack_integrations.common.jina.answer_checks import (
    answer_data,
    clean_usage,
    data_index,
    is_finite_number,
    malformed_answer,
)
from haystack_integrations.common.jina.embeddings import EmbeddingFormat, EmbeddingsResult
from haystack_integrations.common.jina.endpoints import called_endpoint
from haystack_integrations.common.jina.errors import JinaMalformedResponseError
from haystack_integrations.common.jina.models import (
    EMBEDDING_MODELS,
    check_option_types,
    describe_model,
    unknown_model,
)

#: The name of the token -> index mapping above; recorded in meta under `TOKEN_INDEX_META_KEY`.
TOKEN_INDEX_MAPPING = "utf8-blake2b32-31bit-v1"
TOKEN_INDEX_META_KEY = "sparse_token_index"
_INDEX_MASK = 0x7FFF_FFFF


def token_index(token: str) -> int:
    """The index of one token under `TOKEN_INDEX_MAPPING` (see the module's docstring)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") & _INDEX_MASK


def to_sparse_embedding(weights: Mapping[str, float]) -> SparseEmbedding:
    """Token weights as a `SparseEmbedding`: indices ascending, colliding tokens merged by their larger weight."""
    merged: dict[int, float] = {}
    for token, weight in weights.items():
        index = token_index(token)
        merged[index] = max(weight, merged.get(index, weight))
    indices = sorted(merged)
    return SparseEmbedding(indices=indices, values=[float(merged[index]) for index in indices])


def check_sparse_model(model: str, task: str | None) -> None:
    """
    Refuse, before any request, a known model that does not answer sparse embeddings, or a task it lacks.

    :raises ValueError: Naming the model and what it accepts. Unknown names pass, as for the dense embedders,
        unless the name is a typo of a known sparse model ("did you mean ...").
    """
    check_option_types({"task": task})
    known = EMBEDDING_MODELS.get(model)
    sparse_models = {name: m for name, m in EMBEDDING_MODELS.items() if m.output == "sparse"}
    if known is None:
        unknown_model(model, "sparse embedding", sparse_models)
        return
    if known.output != "sparse":
        msg = (
            f"{model} does not answer sparse embeddings (sparse models: {', '.join(sparse_models)}). "
            "Use JinaTextEmbedder / JinaDocumentEmbedder for it."
        )
        raise ValueError(msg)
    if task is not None and task not in known.tasks:
        msg = f"{model} has no task {task!r}. It accepts {describe_model(known, {'task': 'task'})}."
        raise ValueError(msg)


def sparse_payload(model: str, inputs: Sequence[Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """
    The request body: `model`, `input` and the options that are set (for elser-v2 only `task`).

    No `embedding_type`: the spec does not say what a base64 or binary sparse answer looks like, and
    leaving it out gives the token -> weight mapping.
    """
    return {
        "model": model,
        "input": list(inputs),
        **{key: value for key, value in options.items() if value is not None},
    }


def parse_sparse_response(
    body: Any, expected: int, endpoint: str, _options: Mapping[str, Any] | None = None
) -> EmbeddingsResult[SparseEmbedding]:
    """
    Validate an elser-v2 answer and return one `SparseEmbedding` per input, in input order.

    The spec describes `data` in two shapes, and both are accepted: items shaped as `SingleEmbeddingData`
    (`{"index": i, "embedding": {token: weight}}`, matched by `index`), or bare `{token: weight}` maps
    (`EmbeddingResponse.data`'s third form, matched by position). Which branch applies is decided by the
    model, never guessed from the shape: this is only called for sparse models. Anything else (a wrong
    count, a repeated or missing index, a non-string token, a weight that is not a finite number) raises
    `JinaMalformedResponseError`.
    """
    malformed = malformed_answer("sparse embeddings", called_endpoint(endpoint), body)
    data = answer_data(body, expected, "embeddings", malformed)
    weights: list[dict[str, float] | None] = [None] * expected
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise malformed(f"data[{position}] is not an object")
        if isinstance(item.get("embedding"), dict):  # SingleEmbeddingData: the token map sits under "embedding"
            index, raw = data_index(item.get("index"), weights, malformed), item["embedding"]
        else:  # a bare token -> weight map, in input order
            index, raw = data_index(position, weights, malformed), item
        weights[index] = _token_weights(raw, malformed)
    # as many items as inputs, none twice: every position is filled (the filter is for the type checker)
    vectors = [to_sparse_embedding(w) for w in weights if w is not None]
    model = body.get("model") if isinstance(body.get("model"), str) else None
    return EmbeddingsResult(vectors=vectors, model=model, usage=clean_usage(body.get("usage")))


def _token_weights(raw: Any, malformed: Callable[[str], JinaMalformedResponseError]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for token, weight in raw.items():
        if not isinstance(token, str) or not token:
            raise malformed(f"a token is not a non-empty string: {token!r}")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise malformed(f"the weight of token {token[:50]!r} is not a number: {weight!r}"[:200])
        if not is_finite_number(weight):
            raise malformed(f"the weight of token {token[:50]!r} is NaN, infinite or out of range")
        weights[token] = float(weight)
    return weights


#: How sparse embeddings travel through `embed_documents`: this body, this parser, `Document.sparse_embedding`.
SPARSE = EmbeddingFormat(payload=sparse_payload, parse=parse_sparse_response, document_field="sparse_embedding")
