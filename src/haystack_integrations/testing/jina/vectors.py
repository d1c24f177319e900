"""Deterministic stand-ins for model outputs: hashed text features, Matryoshka-friendly.

Every feature (a word, a character trigram) lands on one coordinate in each of the nested prefixes
[0, 16), [0, 64), [0, 256) and the whole vector, so any prefix the caller truncates to (`dimensions`) still carries
all features, like a Matryoshka model. Texts sharing words share coordinates, so they are close.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import operator
import re
import struct
from collections import Counter

from haystack_integrations.testing.jina import concepts

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """A rough tokenizer: words and punctuation marks. Used for usage counts and limits."""
    return _TOKEN.findall(text)


@functools.lru_cache(maxsize=64)
def _octaves(dimensions: int) -> list[tuple[int, int]]:
    """Nested prefixes [0, 16), [0, 64), [0, 256), [0, dimensions): each feature has a slot in each."""
    spans = [(0, size) for size in (16, 64, 256) if size < dimensions]
    return [*spans, (0, dimensions)]


@functools.lru_cache(maxsize=262_144)
def _slots(feature: str, dimensions: int) -> tuple[tuple[int, float], ...]:
    """Where a feature lands: one (coordinate, sign) per octave. Cached: words and trigrams recur a lot."""
    digest = hashlib.blake2b(feature.encode(), digest_size=32).digest()
    slots = []
    for octave, (start, end) in enumerate(_octaves(dimensions)):
        # 32 digest bytes: 2 per prefix for the slot, then 1 per prefix for the sign
        chunk = int.from_bytes(digest[octave * 2 : octave * 2 + 2], "little")
        sign = 1.0 if digest[24 + octave % 8] >> (octave // 8) & 1 else -1.0
        slots.append((start + chunk % (end - start), sign))
    return tuple(slots)


def hashed_vector(features: dict[str, float], dimensions: int) -> list[float]:
    vector = [0.0] * dimensions
    for feature, weight in features.items():
        for index, sign in _slots(feature, dimensions):
            vector[index] += sign * weight
    return vector


@functools.lru_cache(maxsize=131_072)
def _word_slots(word: str, dimensions: int) -> tuple[tuple[int, float], ...]:
    """The summed contribution of a word: the word itself (weight 1) and its character trigrams (0.3 each)."""
    padded = f"<{word}>"
    features = {f"w:{word}": 1.0}
    for i in range(len(padded) - 2):
        key = f"c:{padded[i : i + 3]}"
        features[key] = features.get(key, 0.0) + 0.3
    contribution: dict[int, float] = {}
    for feature, weight in features.items():
        for index, sign in _slots(feature, dimensions):
            contribution[index] = contribution.get(index, 0.0) + sign * weight
    return tuple(contribution.items())


def text_vector(text: str, dimensions: int, task: str | None = None, *, multimodal: bool = False) -> list[float]:
    """
    Words and their character trigrams, hashed; a task adds a small task-specific component.

    For a multimodal model the colours the text names are added too, in the space images share
    (see `concepts.py`).
    """
    vector = [0.0] * dimensions
    words = Counter(_WORD.findall(text.lower()))
    for word, count in words.items():
        for index, value in _word_slots(word, dimensions):
            vector[index] += count * value
    if not words:
        vector = hashed_vector({"empty": 1.0}, dimensions)
    named = concepts.text_concepts(words) if multimodal else {}
    if named:
        vector = mix(normalize(vector), normalize(hashed_vector(named, dimensions)), concepts.TEXT_SHARE)
    if task:  # a task adapter shifts the vector a little, as the real adapters do
        scale = 0.25 * math.sqrt(math.fsum(map(operator.mul, vector, vector)))
        vector = mix(vector, hashed_vector({f"task:{task}": 1.0}, dimensions), scale)
    return vector


def normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(map(operator.mul, vector, vector))) or 1.0
    return [x / norm for x in vector]


def mix(vector: list[float], context: list[float], weight: float) -> list[float]:
    return [a + weight * b for a, b in zip(vector, context, strict=True)]


def encode(vector: list[float], embedding_type: str) -> list[float] | list[int] | str:
    """Put a vector in the wire form the client asked for."""
    if embedding_type == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    if embedding_type in ("binary", "ubinary"):
        packed = []
        for start in range(0, len(vector), 8):
            byte = 0
            for x in vector[start : start + 8]:
                byte = (byte << 1) | (1 if x > 0 else 0)
            packed.append(byte - 128 if embedding_type == "binary" else byte)
        return packed
    return vector
