from __future__ import annotations

import asyncio
import math

import pytest
from haystack import Pipeline
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import JinaBadRequestError
from haystack_integrations.common.jina.ratelimit import START_CONCURRENCY
from haystack_integrations.components.embedders.jina import JinaTextEmbedder
from haystack_integrations.testing.jina import JinaEmulator

TYPE = "haystack_integrations.components.embedders.jina.text_embedder.JinaTextEmbedder"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.fixture
def embedder(emulator: JinaEmulator, api_key: Secret) -> JinaTextEmbedder:
    return JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)


def test_to_dict_matches_published_shape(api_key: Secret) -> None:
    # parameters this package added are written only when set (see test_drop_in.py)
    data = JinaTextEmbedder(api_key=api_key).to_dict()
    assert data == {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "model": "jina-embeddings-v3",
            "base_url": "https://api.jina.ai/v1/embeddings",
            "prefix": "",
            "suffix": "",
        },
    }


def test_round_trip_with_all_parameters(api_key: Secret) -> None:
    original = JinaTextEmbedder(
        api_key,
        "jina-embeddings-v3",
        "p:",
        ":s",
        "retrieval.query",
        256,
        False,
        base_url="http://x/v1/embeddings",
        embedding_type="binary",
        normalized=True,
        truncate=True,
        timeout=5,
        max_retries=1,
    )
    data = original.to_dict()
    assert data["init_parameters"]["task"] == "retrieval.query"
    assert data["init_parameters"]["late_chunking"] is False
    restored = JinaTextEmbedder.from_dict(data)
    assert restored.to_dict() == data


def test_token_secret_refuses_to_serialize(emulator: JinaEmulator) -> None:
    embedder = JinaTextEmbedder(api_key=Secret.from_token("sk-very-secret"), base_url=emulator.embeddings_url)
    with pytest.raises(ValueError, match="Cannot serialize token-based secret"):
        embedder.to_dict()
    assert "sk-very-secret" not in repr(embedder)


def test_yaml_pipeline_round_trip_runs(emulator: JinaEmulator, api_key: Secret) -> None:
    pipeline = Pipeline()
    pipeline.add_component("embedder", JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url))
    yaml_text = pipeline.dumps()
    assert emulator.api_key not in yaml_text
    loaded = Pipeline.loads(yaml_text)
    result = loaded.run({"embedder": {"text": "hello"}})
    assert len(result["embedder"]["embedding"]) == 1024


def test_every_parameter_reaches_the_wire(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = JinaTextEmbedder(
        api_key,
        "jina-embeddings-v3",
        "query: ",
        " end",
        "retrieval.query",
        64,
        True,
        base_url=emulator.embeddings_url,
        normalized=True,
        truncate=True,
    )
    result = embedder.run("what is pizza")
    body = emulator.requests[0].json
    assert body == {
        "model": "jina-embeddings-v3",
        "input": ["query: what is pizza end"],
        "task": "retrieval.query",
        "dimensions": 64,
        "late_chunking": True,
        "embedding_type": "base64",
        "normalized": True,
        "truncate": True,
    }
    assert len(result["embedding"]) == 64
    assert result["meta"]["model"] == "jina-embeddings-v3"
    assert result["meta"]["usage"] == {"total_tokens": 6, "prompt_tokens": 6}  # query : what is pizza end


def test_unset_options_are_not_sent(embedder: JinaTextEmbedder, emulator: JinaEmulator) -> None:
    embedder.run("hi")
    assert emulator.requests[0].json == {"model": "jina-embeddings-v3", "input": ["hi"], "embedding_type": "base64"}


def test_float_vectors_are_decoded_exactly(embedder: JinaTextEmbedder, emulator: JinaEmulator, api_key: Secret) -> None:
    """base64 on the wire decodes to the same floats the API would have sent as JSON (float32 precision)."""
    vector = embedder.run("the cat sat on the mat")["embedding"]
    assert all(isinstance(x, float) for x in vector)
    assert math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-5)


def test_similar_texts_are_closer(embedder: JinaTextEmbedder) -> None:
    pizza = embedder.run("I love eating pizza with cheese")["embedding"]
    pizza2 = embedder.run("pizza with lots of cheese is what I love")["embedding"]
    rockets = embedder.run("orbital rockets need liquid oxygen")["embedding"]
    assert cosine(pizza, pizza2) > cosine(pizza, rockets) + 0.2


@pytest.mark.parametrize(("embedding_type", "length"), [("binary", 128), ("ubinary", 128)])
def test_binary_embeddings_are_integer_lists(
    emulator: JinaEmulator, api_key: Secret, embedding_type: str, length: int
) -> None:
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, embedding_type=embedding_type)
    vector = embedder.run("bits please")["embedding"]
    assert emulator.requests[0].json["embedding_type"] == embedding_type
    assert len(vector) == length and all(isinstance(x, int) for x in vector)
    low, high = (-128, 127) if embedding_type == "binary" else (0, 255)
    assert all(low <= x <= high for x in vector)


def test_invalid_embedding_type_is_rejected_early(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="embedding_type must be one of"):
        JinaTextEmbedder(api_key=api_key, embedding_type="base64")


@pytest.mark.parametrize("bad", [["a list"], None, 3])
def test_non_string_input_points_to_document_embedder(embedder: JinaTextEmbedder, bad: object) -> None:
    with pytest.raises(TypeError, match="JinaDocumentEmbedder"):
        embedder.run(bad)  # type: ignore[arg-type]


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_api_error_surfaces_for_a_model_the_catalogue_does_not_know(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, model="jina-embeddings-v9")
    with pytest.raises(JinaBadRequestError, match="INPUT_MODEL_NOT_FOUND") as info:
        embedder.run("x")
    assert info.value.status_code == 400 and info.value.code == "INPUT_MODEL_NOT_FOUND"


def test_a_task_the_known_model_lacks_fails_at_construction(api_key: Secret) -> None:
    with pytest.raises(ValueError, match=r"jina-embeddings-v3 has no task 'code\.query'.*retrieval\.passage"):
        JinaTextEmbedder(api_key=api_key, task="code.query")


async def test_run_async_calls_overlap(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.3
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    results = await asyncio.gather(*(embedder.run_async(f"text {i}") for i in range(4)))
    assert [len(r["embedding"]) for r in results] == [1024] * 4
    assert emulator.max_in_flight == 4, "the 4 calls did not overlap"


async def test_run_async_does_not_block_the_event_loop(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.5
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(5):
            await asyncio.sleep(0.04)
            ticks += 1

    async def embed() -> int:
        await embedder.run_async("x")
        return ticks  # how often the loop ticked while the request was out

    ticks_during_request, _ = await asyncio.gather(embed(), ticker())
    assert ticks_during_request >= 3


async def test_many_concurrent_run_async_calls_overlap(emulator: JinaEmulator, api_key: Secret) -> None:
    """Concurrent calls overlap up to the client's limit (the Free tier's 5), whatever the loop's thread pool holds."""
    emulator.latency = 0.3
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    results = await asyncio.gather(*(embedder.run_async(f"text {i}") for i in range(8)))
    assert len(results) == 8
    assert emulator.max_in_flight == START_CONCURRENCY  # nothing stated: the Free tier's 5 to start


def test_an_option_set_after_construction_reaches_the_request_and_to_dict(
    embedder: JinaTextEmbedder, emulator: JinaEmulator
) -> None:
    # the options are kept as one value; each is still an attribute that can be set, as a plain one could
    embedder.dimensions = 64
    embedder.task = "retrieval.query"
    result = embedder.run("hi")
    assert len(result["embedding"]) == 64
    assert emulator.requests[0].json["dimensions"] == 64
    assert emulator.requests[0].json["task"] == "retrieval.query"
    assert embedder.to_dict()["init_parameters"]["dimensions"] == 64
    assert embedder.embedding_options.dimensions == 64
