"""Lexical relevance for the emulator's rerank, search and ground: BM25-style scores over crude terms."""

from __future__ import annotations

import math
import re
from collections import Counter

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
