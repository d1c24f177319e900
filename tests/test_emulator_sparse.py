"""The emulator's elser-v2: token weights with expansion terms, ELSER usage, deterministic answers."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from jina_spec import MISSING_REASON, load_spec

from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.expansion import RELATED_WORDS


def post(emulator: JinaEmulator, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    return requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=10)


def weights(emulator: JinaEmulator, text: str, task: str | None = None) -> dict[str, float]:
    body: dict[str, Any] = {"model": "elser-v2", "input": [text]}
    if task:
        body["task"] = task
    answer = post(emulator, body)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["data"]
    assert item["object"] == "embedding" and item["index"] == 0
    result: dict[str, float] = item["embedding"]
    return result


def test_words_weigh_by_count_stopwords_not_at_all_and_related_words_join(emulator: JinaEmulator) -> None:
    found = weights(emulator, "The doctor and the doctor of the hearts")
    assert "the" not in found and "and" not in found
    assert found["doctor"] > found["hearts"] == 1.0  # twice beats once
    assert found["heart"] == 0.8  # the plural folded
    assert {"physician", "medic", "cardiac", "cardiology"} <= set(found)  # related words the text lacks
    assert all(0 < found[word] < found["heart"] for word in ("physician", "cardiac"))


def test_documents_are_expanded_more_than_queries(emulator: JinaEmulator) -> None:
    query = weights(emulator, "car", "retrieval.query")
    passage = weights(emulator, "car", "retrieval.passage")
    assert query["car"] == passage["car"] == 1.0
    assert 0 < query["automobile"] < passage["automobile"] < 1.0


def test_answers_are_deterministic_and_usage_has_elser_fields(emulator: JinaEmulator) -> None:
    body = {"model": "elser-v2", "input": ["heart doctor", {"text": "fast car"}], "task": "retrieval.passage"}
    first, second = post(emulator, body).json(), post(emulator, body).json()
    assert first == second
    assert first["usage"] == {"total_tokens": 4, "input_tokens": 4, "output_tokens": 12}  # 4 words, 2 related each
    assert [item["index"] for item in first["data"]] == [0, 1]


def test_only_the_first_512_tokens_are_read(emulator: JinaEmulator) -> None:
    text = " ".join(f"w{i}" for i in range(600))
    answer = post(emulator, {"model": "elser-v2", "input": [text]}).json()
    assert answer["usage"]["input_tokens"] == 512
    assert "w511" in answer["data"][0]["embedding"] and "w512" not in answer["data"][0]["embedding"]


@pytest.mark.parametrize("embedding_type", ["base64", "binary"])
def test_encodings_the_spec_does_not_describe_for_sparse_are_refused(
    emulator: JinaEmulator, embedding_type: str
) -> None:
    answer = post(emulator, {"model": "elser-v2", "input": ["x"], "embedding_type": embedding_type})
    assert answer.status_code == 422
    assert "token weights" in answer.json()["detail"]


def test_related_words_are_groups_of_distinct_lowercase_words() -> None:
    words = [word for group in RELATED_WORDS for word in group]
    assert len(words) == len(set(words))
    assert all(word.isalpha() and word == word.lower() for word in words)


def test_the_answer_matches_the_spec_response_schema(emulator: JinaEmulator) -> None:
    spec = load_spec()
    if spec is None:
        pytest.skip(MISSING_REASON)
    from jsonschema import Draft202012Validator

    schema = {"$ref": "#/components/schemas/EmbeddingResponse", "components": spec["components"]}
    answer = post(emulator, {"model": "elser-v2", "input": ["heart doctor", "fast car"]}).json()
    assert [error.message for error in Draft202012Validator(schema).iter_errors(answer)] == []
