"""The emulator's stand-in for elser-v2: a weight per token, plus expansion terms.

ELSER is a learned sparse model: besides the words of a text it weighs related terms the text does not
contain ("physician" also lights up "doctor"), which is how a query finds a document worded differently.
The emulator imitates that with a small, fixed table of related words and a crude plural folding, so
hybrid pipelines can be tested offline: a query can match a document without sharing its exact words,
which the emulator's dense vectors (hashed words and character trigrams) cannot do. Deterministic:
the same text and task always give the same weights. It is a test double, not a model.
"""

from __future__ import annotations

import math
from collections import Counter

from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.lexical import STOPWORDS

#: Groups of related words: each word of a group expands to the others.
RELATED_WORDS = (
    ("car", "automobile", "vehicle"),
    ("doctor", "physician", "medic"),
    ("heart", "cardiac", "cardiology"),
    ("film", "movie", "cinema"),
    ("buy", "purchase"),
    ("big", "large", "huge"),
    ("fast", "quick", "rapid"),
    ("child", "kid"),
    ("ocean", "sea", "marine"),
    ("lawyer", "attorney", "legal"),
    ("bike", "bicycle", "cycling"),
    ("sofa", "couch"),
    ("illness", "disease", "sickness"),
    ("medicine", "drug", "medication"),
    ("teacher", "educator", "school"),
    ("begin", "start"),
    ("money", "cash", "currency"),
    ("dog", "puppy", "canine"),
    ("cat", "kitten", "feline"),
    ("phone", "telephone", "mobile"),
)
_RELATED = {word: tuple(other for other in group if other != word) for group in RELATED_WORDS for word in group}

#: Weight of a word's plural-folded form and of its related words, relative to the word's own weight.
#: Documents are expanded more than queries, as a learned sparse model does when it fills in a passage.
STEM_SHARE = 0.8
EXPANSION_SHARE = {"retrieval.passage": 0.5, "retrieval.query": 0.3}
DEFAULT_EXPANSION_SHARE = 0.4


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def sparse_weights(text: str, task: str | None, context_length: int) -> tuple[dict[str, float], int]:
    """
    The token weights of one text and the number of tokens read.

    Only the first `context_length` tokens are read (the emulator's assumption of what the API does with
    longer input; the spec does not say). Stopwords get no weight; a word weighs 1 + 0.5 ln(count); its
    plural-folded form and its related words weigh a share of that. Weights are merged by maximum.
    """
    read = vectors.tokens(text)[:context_length]
    counts = Counter(word.lower() for word in read if word.isalnum() and word.lower() not in STOPWORDS)
    share = EXPANSION_SHARE.get(task or "", DEFAULT_EXPANSION_SHARE)
    weights: dict[str, float] = {}

    def add(token: str, weight: float) -> None:
        weights[token] = max(weights.get(token, 0.0), round(weight, 4))

    for word, count in sorted(counts.items()):
        weight = 1.0 + 0.5 * math.log(count)
        add(word, weight)
        stem = _stem(word)
        if stem != word:
            add(stem, weight * STEM_SHARE)
        for related in _RELATED.get(stem, ()):
            add(related, weight * share)
    return weights, len(read)
