"""JinaSparseTextEmbedder / JinaSparseDocumentEmbedder on elser-v2, against the JinaEmulator over HTTP,
and the token -> index mapping contract they rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from haystack import Document, Pipeline
from haystack.dataclasses import SparseEmbedding
from haystack.utils import Secret
from hostile_server import HostileServer, answer, head, request_body

from haystack_integrations.common.jina.errors import JinaInputError, JinaMalformedResponseError
from haystack_integrations.common.jina.sparse import (
    TOKEN_INDEX_MAPPING,
    parse_sparse_response,
    to_sparse_embedding,
    token_index,
)
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaSparseDocumentEmbedder,
    JinaSparseTextEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.testing.jina import JinaEmulator

ROOT = Path(__file__).resolve().parents[1]

#: The contract: these indices may never change under the name utf8-blake2b32-31bit-v1. They were checked
#: against coreutils, independently of Python: `printf '%s' heart | b2sum -l 32` is 4cc7e667, & 0x7fffffff.
PINNED = {
    "heart": 1288169063,
    "doctor": 1178656847,
    "##ing": 1417860267,
    "[CLS]": 770196942,
    "café": 755221974,
    "東京": 1032495173,
    "a": 1243827285,
}


def text_embedder(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaSparseTextEmbedder:
    return JinaSparseTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, **kwargs)


def document_embedder(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaSparseDocumentEmbedder:
    kwargs.setdefault("progress_bar", False)
    return JinaSparseDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, **kwargs)


def weight_of(embedding: SparseEmbedding, token: str) -> float | None:
    index = token_index(token)
    return embedding.values[embedding.indices.index(index)] if index in embedding.indices else None


# ---------------------------------------------------------------- the mapping contract


def test_the_mapping_name_and_known_tokens_are_pinned() -> None:
    assert TOKEN_INDEX_MAPPING == "utf8-blake2b32-31bit-v1"
    assert {token: token_index(token) for token in PINNED} == PINNED
    assert all(0 <= token_index(token) < 2**31 for token in ("", "x" * 1000, "\u0000", "🙂"))


def test_colliding_tokens_are_merged_by_their_larger_weight() -> None:
    assert token_index("tok12293") == token_index("tok24605")  # a known 31-bit collision
    merged = to_sparse_embedding({"tok12293": 0.5, "tok24605": 2.0, "heart": 1.0})
    assert merged.indices == sorted([token_index("tok12293"), PINNED["heart"]])
    assert dict(zip(merged.indices, merged.values, strict=True))[token_index("tok12293")] == 2.0


_SUBPROCESS = """
import json, sys
from haystack.utils import Secret
from haystack_integrations.common.jina.sparse import token_index
from haystack_integrations.components.embedders.jina import JinaSparseTextEmbedder
embedder = JinaSparseTextEmbedder(api_key=Secret.from_token(sys.argv[2]), base_url=sys.argv[1])
result = embedder.run("Physicians treat heart disease in Tōkyō and café owners")
tokens = json.loads(sys.argv[3])
print(json.dumps({"pinned": [token_index(t) for t in tokens], "indices": result["sparse_embedding"].indices}))
"""


def test_indices_do_not_depend_on_the_process_or_its_hash_seed(emulator: JinaEmulator) -> None:
    assert emulator.api_key is not None
    outputs = []
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "src")}
        env.pop("JINA_API_BASE_URL", None)
        completed = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS, emulator.embeddings_url, emulator.api_key, json.dumps(list(PINNED))],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        outputs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    assert outputs[0]["pinned"] == list(PINNED.values())
    assert outputs[0] == outputs[1] == outputs[2]
    assert PINNED["heart"] in outputs[0]["indices"]


def test_a_token_gets_the_same_index_in_query_and_document_embeddings(emulator: JinaEmulator, api_key: Secret) -> None:
    query = text_embedder(emulator, api_key).run("heart doctor")["sparse_embedding"]
    (document,) = document_embedder(emulator, api_key).run([Document(content="The heart doctor")])["documents"]
    assert {PINNED["heart"], PINNED["doctor"]} <= set(query.indices) & set(document.sparse_embedding.indices)


# ---------------------------------------------------------------- the components


def test_text_embedder_sends_model_input_and_query_task_only(emulator: JinaEmulator, api_key: Secret) -> None:
    result = text_embedder(emulator, api_key, prefix="q: ").run("Which physician treats the heart?")
    (request,) = emulator.requests_to("/v1/embeddings")
    assert request.json == {
        "model": "elser-v2",
        "input": ["q: Which physician treats the heart?"],
        "task": "retrieval.query",
    }
    embedding = result["sparse_embedding"]
    assert isinstance(embedding, SparseEmbedding)
    assert embedding.indices == sorted(embedding.indices)
    assert weight_of(embedding, "physician") == 1.0
    assert 0 < (weight_of(embedding, "doctor") or 0) < 1.0  # an expansion term the text does not contain
    assert result["meta"]["model"] == "elser-v2"
    assert result["meta"]["sparse_token_index"] == TOKEN_INDEX_MAPPING
    assert set(result["meta"]["usage"]) == {"total_tokens", "input_tokens", "output_tokens"}


def test_document_embedder_sets_sparse_embedding_and_keeps_the_dense_one(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    documents = [
        Document(content=f"Document {i} about cars", meta={"title": f"T{i}"}, embedding=[0.5, 0.5]) for i in range(7)
    ]
    embedder = document_embedder(emulator, api_key, batch_size=3, meta_fields_to_embed=["title"])
    result = embedder.run(documents)
    assert [d.id for d in result["documents"]] == [d.id for d in documents]
    assert all(d.sparse_embedding is None and "sparse_token_index" not in d.meta for d in documents)  # not mutated
    for document in result["documents"]:
        assert document.embedding == [0.5, 0.5]
        assert weight_of(document.sparse_embedding, "automobile")  # expanded from "cars"
        assert document.meta == {"title": document.meta["title"], "sparse_token_index": TOKEN_INDEX_MAPPING}
    bodies = [r.json for r in emulator.requests_to("/v1/embeddings")]
    assert sorted(len(b["input"]) for b in bodies) == [1, 3, 3]
    assert all(b["task"] == "retrieval.passage" and set(b) == {"model", "input", "task"} for b in bodies)
    assert any(b["input"][0] == "T0\nDocument 0 about cars" for b in bodies)
    # failures raise with the default raise_on_failure=True: meta holds no list of them (as the dense embedders)
    assert set(result["meta"]) == {"model", "usage", "sparse_token_index"}
    assert result["meta"]["usage"]["input_tokens"] == 7 * 5
    lenient = document_embedder(emulator, api_key, raise_on_failure=False).run(documents)
    assert lenient["meta"]["failed_documents"] == []


def test_a_document_with_nothing_to_embed_is_reported_and_the_rest_embedded(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    documents = [Document(content="heart"), Document(content="  ", embedding=[1.0]), Document(content="car")]
    with pytest.raises(JinaInputError, match=documents[1].id):
        document_embedder(emulator, api_key).run(documents)
    assert emulator.requests_to("/v1/embeddings") == []

    result = document_embedder(emulator, api_key, raise_on_failure=False).run(documents)
    out = result["documents"]
    assert out[0].sparse_embedding is not None and out[2].sparse_embedding is not None
    assert out[1].sparse_embedding is None and out[1].embedding == [1.0]
    assert [f["id"] for f in result["meta"]["failed_documents"]] == [documents[1].id]


def test_task_none_leaves_the_field_out(emulator: JinaEmulator, api_key: Secret) -> None:
    text_embedder(emulator, api_key, task=None).run("heart")
    assert emulator.requests_to("/v1/embeddings")[0].json == {"model": "elser-v2", "input": ["heart"]}


async def test_run_async_gives_what_run_gives(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = text_embedder(emulator, api_key)
    assert (await embedder.run_async("heart disease")) == embedder.run("heart disease")
    documents = [Document(content="heart disease")]
    doc_embedder = document_embedder(emulator, api_key)
    assert (await doc_embedder.run_async(documents))["documents"] == doc_embedder.run(documents)["documents"]


def test_wrong_input_types_raise_type_error(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(TypeError, match="JinaSparseDocumentEmbedder"):
        text_embedder(emulator, api_key).run(["a list"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JinaSparseTextEmbedder"):
        document_embedder(emulator, api_key).run("a string")  # type: ignore[arg-type]


@pytest.mark.parametrize("component", [JinaTextEmbedder, JinaDocumentEmbedder])
def test_dense_embedders_refuse_elser_and_point_to_the_sparse_ones(api_key: Secret, component: Any) -> None:
    with pytest.raises(ValueError, match=r"sparse vectors.*JinaSparseTextEmbedder / JinaSparseDocumentEmbedder"):
        component(api_key=api_key, model="elser-v2")


@pytest.mark.parametrize("component", [JinaSparseTextEmbedder, JinaSparseDocumentEmbedder])
def test_sparse_embedders_refuse_dense_models_and_unknown_tasks(api_key: Secret, component: Any) -> None:
    with pytest.raises(ValueError, match="jina-embeddings-v3 does not answer sparse embeddings"):
        component(api_key=api_key, model="jina-embeddings-v3")
    with pytest.raises(ValueError, match="elser-v2 has no task 'text-matching'"):
        component(api_key=api_key, task="text-matching")
    with pytest.raises(ValueError, match="task must be None or a string"):
        component(api_key=api_key, task=1)
    component(api_key=api_key, model="elser-v3-from-the-future")  # unknown names pass unchecked


@pytest.mark.parametrize("component", [JinaSparseTextEmbedder, JinaSparseDocumentEmbedder])
def test_serialization_round_trip_without_the_key(component: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JINA_KEY", "jina_secret_value")
    original = component(api_key=Secret.from_env_var("MY_JINA_KEY"), prefix="p", task=None, max_retries=2)
    data = original.to_dict()
    assert "jina_secret_value" not in json.dumps(data)
    assert data["init_parameters"]["model"] == "elser-v2" and data["init_parameters"]["task"] is None
    restored = component.from_dict(data)
    assert restored.to_dict() == data
    pipeline = Pipeline()
    pipeline.add_component("sparse", original)
    assert Pipeline.loads(pipeline.dumps()).get_component("sparse").to_dict() == data


# ---------------------------------------------------------------- the answer, untrusted


def _bare_maps(conn: Any, request: bytes) -> None:
    """The spec's other shape: `data` is a list of bare {token: weight} maps, in input order."""
    inputs = request_body(request)["input"]
    data = [dict.fromkeys(text.lower().split(), 1.0 + i) for i, text in enumerate(inputs)]
    body = {"model": "elser-v2", "usage": {"total_tokens": 3, "input_tokens": 3, "output_tokens": 3}, "data": data}
    payload = json.dumps(body).encode()
    conn.sendall(head(200, len(payload)) + payload)


def test_bare_token_maps_are_read_in_input_order() -> None:
    with HostileServer(_bare_maps) as server:
        embedder = JinaSparseDocumentEmbedder(
            api_key=Secret.from_token("k"), base_url=server.url, progress_bar=False, batch_size=2
        )
        out = embedder.run([Document(content="heart"), Document(content="doctor"), Document(content="heart")])
    heart, doctor = [PINNED["heart"]], [PINNED["doctor"]]
    assert [d.sparse_embedding.indices for d in out["documents"]] == [heart, doctor, heart]
    assert [d.sparse_embedding.values for d in out["documents"]] == [[1.0], [2.0], [1.0]]


def test_indexed_items_out_of_order_are_put_back_in_order() -> None:
    body = {
        "model": "elser-v2",
        "data": [{"index": 1, "embedding": {"doctor": 2}}, {"index": 0, "embedding": {"heart": 0.5}}],
    }
    result = parse_sparse_response(body, 2, "http://127.0.0.1/v1/embeddings")
    assert [v.indices for v in result.vectors] == [[PINNED["heart"]], [PINNED["doctor"]]]
    assert result.vectors[1].values == [2.0]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([{"index": 0, "embedding": {"heart": "high"}}], "weight of token 'heart' is not a number"),
        ([{"index": 0, "embedding": {"heart": True}}], "is not a number"),
        ([{"index": 0, "embedding": {"heart": float("inf")}}], "NaN, infinite"),
        ([{"index": 0, "embedding": {"heart": 10**400}}], "NaN, infinite or out of range"),
        ([{"index": 0, "embedding": {7: 1.0}}], "token is not a non-empty string"),
        ([{"index": 0, "embedding": {"": 1.0}}], "token is not a non-empty string"),
        ([{"index": 3, "embedding": {"heart": 1.0}}], "index 3 is not in 0..0"),
        ([["heart", 1.0]], r"data\[0\] is not an object"),
        ([], "0 embeddings for 1 inputs"),
    ],
)
def test_malformed_answers_raise(data: Any, problem: str) -> None:
    with pytest.raises(JinaMalformedResponseError, match=problem):
        parse_sparse_response({"model": "elser-v2", "data": data}, 1, "http://127.0.0.1/v1/embeddings")


def test_a_mix_of_shapes_that_gives_one_input_two_embeddings_raises() -> None:
    data = [{"a": 1.0}, {"index": 0, "embedding": {"b": 1.0}}]  # the bare map is position 0, and so is index 0
    with pytest.raises(JinaMalformedResponseError, match="index 0 appears twice"):
        parse_sparse_response({"data": data}, 2, "http://127.0.0.1/v1/embeddings")


def test_an_error_body_without_data_quotes_the_server() -> None:
    with pytest.raises(JinaMalformedResponseError, match="no 'data' list; the server says: overloaded"):
        parse_sparse_response({"detail": "overloaded"}, 1, "http://127.0.0.1/v1/embeddings")


@pytest.mark.parametrize("fault", ["nan", "wrong_count"])
def test_corrupt_answers_from_the_emulator_fail_the_batch_not_the_others(
    emulator: JinaEmulator, api_key: Secret, fault: str
) -> None:
    emulator.inject(fault, path="/v1/embeddings")
    with pytest.raises(JinaMalformedResponseError):
        text_embedder(emulator, api_key, max_retries=0).run("heart")
    emulator.inject(fault, path="/v1/embeddings", when=lambda r: "broken" in r.json["input"][0])
    documents = [Document(content="broken heart"), Document(content="doctor")]
    embedder = document_embedder(emulator, api_key, batch_size=1, raise_on_failure=False, max_retries=0)
    out = embedder.run(documents)
    assert out["documents"][0].sparse_embedding is None and out["documents"][1].sparse_embedding is not None
    assert "Malformed sparse embeddings response" in out["meta"]["failed_documents"][0]["error"]


def test_an_answer_for_the_wrong_count_over_http_raises() -> None:
    body = {"model": "elser-v2", "data": [{"heart": 1.0}, {"doctor": 1.0}]}
    with HostileServer(answer(body)) as server, pytest.raises(JinaMalformedResponseError, match="2 embeddings for 1"):
        JinaSparseTextEmbedder(api_key=Secret.from_token("k"), base_url=server.url).run("heart")
