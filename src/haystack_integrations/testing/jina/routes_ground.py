"""The emulator's grounding endpoint: `GET /g/<statement>`.

It splits the corpus into sentences, keeps those sharing enough of the statement's words as
references, and calls a reference contradicting when exactly one of the two is negated. (Grounding is
gone from Jina's documentation since 2025-04; the emulator keeps it for the deprecated reader mode.)
"""

from __future__ import annotations

import json
import re
from typing import Any

from haystack_integrations.testing.jina.lexical import STOPWORDS, terms
from haystack_integrations.testing.jina.reader_common import (
    SENTENCE_END,
    TEXT_CONTENT_TYPE,
    corpus,
    envelope,
    target,
    tokens,
    wants_json,
)
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, route

MIN_COVERAGE = 0.34  # a sentence must share a third of the statement's words to count as a reference
MAX_REFERENCES = 5
NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "cannot", "neither"})


def _claim(text: str) -> tuple[set[str], bool]:
    """The content words of a text and whether it is negated."""
    words = terms(re.sub(r"n't\b", " not", text.lower()))
    negated = any(word in NEGATIONS for word in words)
    return {word for word in words if word not in STOPWORDS and word not in NEGATIONS}, negated


def ground_statement(statement: str, documents: list[dict[str, str]]) -> dict[str, Any]:
    """Factuality in [0, 1], a verdict, a reason and the references (sentences of the corpus) behind them."""
    words, negated = _claim(statement)
    if not words:
        raise ApiError(422, "The statement has no content words to check.")
    candidates = []
    for doc in documents:
        subject, _ = _claim(doc["title"])  # a sentence speaks of its page's subject ("It is baked ...")
        for sentence in SENTENCE_END.split(doc["content"]):
            sentence_words, sentence_negated = _claim(sentence)
            sentence_words |= subject
            coverage = len(words & sentence_words) / len(words)
            if coverage >= MIN_COVERAGE:
                candidates.append((coverage, doc["url"], sentence.strip(), sentence_negated == negated))
    candidates.sort(key=lambda c: -c[0])
    references = [
        {"url": url, "keyQuote": quote, "isSupportive": supportive}
        for _, url, quote, supportive in candidates[:MAX_REFERENCES]
    ]
    support = max((c[0] for c in candidates if c[3]), default=0.0)
    contradiction = max((c[0] for c in candidates if not c[3]), default=0.0)
    factuality = round(support * (1 - contradiction), 2)
    result = factuality >= 0.5
    if not candidates:
        reason = (
            f"None of the {len(documents)} documents searched mentions enough of the statement's key terms "
            f"({', '.join(sorted(words))}), so it cannot be confirmed."
        )
    elif result:
        best = next(c for c in candidates if c[3])
        reason = f'The statement is supported by {best[1]}, which says: "{best[2]}"'
        if contradiction:
            reason += " Another source disagrees in part."
    elif contradiction:
        worst = next(c for c in candidates if not c[3])
        reason = f'The statement is contradicted by {worst[1]}, which says: "{worst[2]}"'
    else:
        reason = "The sources found cover only part of the statement, so it cannot be confirmed."
    usage = tokens(statement) + sum(tokens(c[2]) for c in candidates[:MAX_REFERENCES])
    return {
        "factuality": factuality,
        "result": result,
        "reason": reason,
        "references": references,
        "usage": {"tokens": usage},
    }


@route("GET", "/g/")
def ground(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    statement = target(request, "/g/", plus_is_space=True)
    if not statement:
        raise ApiError(422, "No statement to ground: append it to /g/.")
    data = ground_statement(statement, corpus(emulator))
    if wants_json(request):
        return Reply(body=envelope(data))
    lines = [
        f"Factuality: {data['factuality']}",
        f"Result: {str(data['result']).lower()}",
        f"Reason: {data['reason']}",
        "References:",
    ]
    lines += [
        f"- {ref['url']} ({'supportive' if ref['isSupportive'] else 'contradicting'}): {json.dumps(ref['keyQuote'])}"
        for ref in data["references"]
    ]
    return Reply(body="\n".join(lines) + "\n", content_type=TEXT_CONTENT_TYPE)
