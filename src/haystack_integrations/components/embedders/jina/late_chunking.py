"""How documents are grouped into requests when late chunking is on.

The API reads all inputs of one request as one long text and returns a vector per input, so context
flows only between inputs of the same request. Chunks of one source document must therefore travel
together and in order, and chunks of different sources must not share a request.
"""

from __future__ import annotations

from collections.abc import Sequence

from haystack import Document

from haystack_integrations.common.jina.embeddings import MAX_INPUTS_PER_REQUEST, batch_positions
from haystack_integrations.common.jina.models import context_length


def estimate_tokens(text: str) -> int:
    """A cautious token estimate without a tokenizer: about 3 UTF-8 bytes or one word per token."""
    return max(len(text.encode("utf-8")) // 3, len(text.split())) + 1


def late_chunking_groups(
    documents: Sequence[Document], texts: Sequence[object], batch_size: int, model: str
) -> list[list[int]]:
    """
    Positions per request: one source document's chunks per request, ordered by `split_id`.

    A source is split only where its chunks would exceed the model's context or 2048 inputs.
    Documents without `meta["source_id"]` keep their order and are batched by `batch_size`.
    """
    budget = context_length(model)  # the catalogue's; unknown models get the smallest published one
    sources: dict[object, list[int]] = {}
    loose: list[int] = []
    for position, document in enumerate(documents):
        source = document.meta.get("source_id")
        if source is None:
            loose.append(position)
        else:
            sources.setdefault(source, []).append(position)

    groups: list[list[int]] = []
    for members in sources.values():
        split_ids = [documents[p].meta.get("split_id") for p in members]
        ordered = (
            [p for _, p in sorted(zip(split_ids, members, strict=True))]
            if all(isinstance(s, int) for s in split_ids)
            else members
        )
        groups.extend(_within_limits(ordered, texts, budget))
    groups.extend([loose[i] for i in batch] for batch in batch_positions(len(loose), batch_size))
    return sorted(groups, key=min)


def _within_limits(positions: list[int], texts: Sequence[object], budget: int) -> list[list[int]]:
    groups: list[list[int]] = [[]]
    used = 0
    for position in positions:
        text = texts[position]
        cost = estimate_tokens(text) if isinstance(text, str) else 0
        if groups[-1] and (used + cost > budget or len(groups[-1]) >= MAX_INPUTS_PER_REQUEST):
            groups.append([])
            used = 0
        groups[-1].append(position)
        used += cost
    return groups
