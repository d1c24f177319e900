"""Deterministic stand-ins for model outputs: hashed text features, Matryoshka-friendly.

Every feature (a word, a character trigram) lands on one coordinate in each "octave" of the vector
([0, 8), [8, 16), [16, 32), ...), so any prefix the caller truncates to (`dimensions`) still carries
all features, like a Matryoshka model. Texts sharing words share coordinates, so they are close.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """A rough tokenizer: words and punctuation marks. Used for usage counts and limits."""
    return _TOKEN.findall(text)


def _octaves(dimensions: int) -> list[tuple[int, int]]:
    spans, start, end = [], 0, min(8, dimensions)
    while start < dimensions:
        spans.append((start, end))
        start, end = end, min(end * 2, dimensions)
    return spans


def hashed_vector(features: dict[str, float], dimensions: int) -> list[float]:
    vector = [0.0] * dimensions
    spans = _octaves(dimensions)
    for feature, weight in features.items():
        digest = hashlib.blake2b(feature.encode(), digest_size=32).digest()
        for octave, (start, end) in enumerate(spans):
            # 32 digest bytes: 2 per octave for the slot, then 1 per octave for the sign (12 octaves: 16k-d)
            chunk = int.from_bytes(digest[octave * 2 : octave * 2 + 2], "little")
            sign = 1.0 if digest[24 + octave % 8] >> (octave // 8) & 1 else -1.0
            vector[start + chunk % (end - start)] += sign * weight
    return vector


def text_features(text: str) -> dict[str, float]:
    features: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        features[f"w:{word}"] = features.get(f"w:{word}", 0.0) + 1.0
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            key = f"c:{padded[i : i + 3]}"
            features[key] = features.get(key, 0.0) + 0.3
    if not features:
        features["empty"] = 1.0
    return features


def text_vector(text: str, dimensions: int, task: str | None = None) -> list[float]:
    features = text_features(text)
    if task:  # a task adapter shifts the vector a little, as the real adapters do
        features[f"task:{task}"] = 0.25 * math.sqrt(sum(w * w for w in features.values()))
    return hashed_vector(features, dimensions)


def normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
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
