"""The key stays secret and local mistakes fail at once (issue 11, items 8 and 9)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import JinaInvalidKeyError
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import JinaEmulator


@pytest.mark.parametrize("padding", ["{}\n", "  {}  ", "\t{}\r\n"])
def test_surrounding_whitespace_of_the_key_is_stripped(
    emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch, padding: str
) -> None:
    monkeypatch.setenv("JINA_API_KEY", padding.format(emulator.api_key))  # as read from a key file
    embedder = JinaTextEmbedder(base_url=emulator.embeddings_url)
    assert len(embedder.run("hello")["embedding"]) == 1024
    assert emulator.requests[0].header("Authorization") == f"Bearer {emulator.api_key}"


@pytest.mark.parametrize(
    "key", ["jina_abc\u2028def", "jina_ключ_secret", "jina_abc\r\nX-Evil: 1", "jina_a\x00b", "jina_has space"]
)
def test_a_key_that_cannot_go_in_a_header_fails_clearly_without_the_key(emulator: JinaEmulator, key: str) -> None:
    with pytest.raises(JinaInvalidKeyError) as info:
        # construction and run together: the key may be resolved at either
        JinaTextEmbedder(api_key=Secret.from_token(key), base_url=emulator.embeddings_url).run("hello")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "HTTP header" in message
    assert key not in message and "secret" not in message and "abc" not in message
    assert not emulator.requests


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "soon"])
def test_bad_timeout_fails_at_construction_naming_it(timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        JinaClient(Secret.from_token("k"), timeout=timeout)
    with pytest.raises(ValueError, match="timeout"):
        JinaTextEmbedder(api_key=Secret.from_token("k"), timeout=timeout)


@pytest.mark.parametrize(
    ("variable", "value"), [("JINA_TIMEOUT", "ten"), ("JINA_TIMEOUT", "0"), ("JINA_MAX_RETRIES", "x")]
)
def test_bad_environment_values_fail_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        JinaDocumentEmbedder(api_key=Secret.from_token("k"))


@pytest.mark.parametrize("dimensions", [math.nan, 0, -3, 2.5, True, "256"])
def test_bad_dimensions_fail_at_construction(dimensions: Any) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        JinaTextEmbedder(api_key=Secret.from_token("k"), dimensions=dimensions)
    with pytest.raises(ValueError, match="dimensions"):
        JinaDocumentEmbedder(api_key=Secret.from_token("k"), dimensions=dimensions)
    with pytest.raises(ValueError, match="embedding_dimension"):
        JinaDocumentImageEmbedder(api_key=Secret.from_token("k"), embedding_dimension=dimensions)


def test_integral_float_dimensions_from_yaml_become_ints(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, dimensions=64.0)  # type: ignore[arg-type]
    assert len(embedder.run("hello")["embedding"]) == 64
    assert emulator.requests[0].json["dimensions"] == 64


@pytest.mark.parametrize("threshold", [math.nan, "0.5", math.inf, True])
def test_bad_score_threshold_fails_at_construction_and_run(
    emulator: JinaEmulator, api_key: Secret, threshold: Any
) -> None:
    with pytest.raises(ValueError, match="score_threshold"):
        JinaRanker(api_key=api_key, score_threshold=threshold)
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url)
    with pytest.raises(ValueError, match="score_threshold"):
        ranker.run(query="q", documents=[Document(content="d")], score_threshold=threshold)
    assert not emulator.requests


@pytest.mark.parametrize("top_k", [True, 2.5, "3"])
def test_top_k_must_be_a_whole_number(emulator: JinaEmulator, api_key: Secret, top_k: Any) -> None:
    with pytest.raises(ValueError, match="top_k"):
        JinaRanker(api_key=api_key, top_k=top_k)
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url)
    with pytest.raises(ValueError, match="top_k"):
        ranker.run(query="q", documents=[Document(content="d")], top_k=top_k)
    assert not emulator.requests
