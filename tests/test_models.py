"""The model catalogue: checked against Jina's spec, enforced by the components, spoken by the emulator."""

from __future__ import annotations

import inspect
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from haystack import Document
from haystack.utils import Secret
from jina_spec import MISSING_REASON, load_spec, request_mapping
from PIL import Image

from haystack_integrations.common.jina.models import (
    EMBEDDING_MODELS,
    NOT_IN_SPEC,
    RERANK_MODELS,
    check_embedding_model,
    context_length,
)
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import JinaEmulator

DENSE_TEXT = sorted(name for name, model in EMBEDDING_MODELS.items() if model.output == "dense")
IMAGE_MODELS = sorted(name for name, model in EMBEDDING_MODELS.items() if model.images)
REQUEST_KEYS = {"model", "input", "query", "documents"}


# ---------------------------------------------------------------- the catalogue is the spec's


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded = load_spec()
    if loaded is None:
        pytest.skip(MISSING_REASON)
    return loaded


def _refs(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        if "$ref" in schema:
            found.add(schema["$ref"].rsplit("/", 1)[-1])
        for value in schema.values():
            found |= _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _refs(value)
    return found


def _enum(prop: dict[str, Any]) -> list[Any]:
    for option in prop.get("anyOf", [prop]):
        if "enum" in option:
            return list(option["enum"])
        if "const" in option:
            return [option["const"]]
    return []


def _modalities(input_schema: dict[str, Any], model: str = "") -> set[str]:
    names = {"TextDoc": "text", "ImageDoc": "image", "PDFDoc": "pdf", "AudioDoc": "audio", "VideoDoc": "video"}
    if model.startswith("jina-embeddings-v5-text-"):
        # EmbeddingsV5Request is shared: "Text-only model variants reject non-text items"
        return {"text"}
    return {names[ref] for ref in _refs(input_schema) if ref in names}


def test_every_embeddings_model_of_the_spec_is_in_the_catalogue_as_the_spec_says(spec: dict[str, Any]) -> None:
    mapping = request_mapping(spec, "/v1/embeddings")
    assert set(mapping) == set(EMBEDDING_MODELS)
    for name, schema_name in mapping.items():
        schema = spec["components"]["schemas"][schema_name]
        model = EMBEDDING_MODELS[name]
        properties = schema["properties"]
        assert model.schema == schema_name, name
        assert model.fields == set(properties) - REQUEST_KEYS, name
        assert model.modalities == _modalities(properties["input"], name), name
        assert list(model.tasks) == (_enum(properties["task"]) if "task" in properties else []), name
        if "dimensions" in properties:
            option = next(o for o in properties["dimensions"]["anyOf"] if o.get("type") == "integer")
            # each model's range stops at its own size (v5 nano: 768 of the shared schema's 1024)
            top = min(int(option.get("maximum", 10**6)), model.native_dimensions)
            expected = tuple(option["enum"]) if "enum" in option else range(1, top + 1)
            assert model.dimensions == expected, name
        else:
            assert model.dimensions is None, name


def test_every_rerank_model_of_the_spec_is_in_the_catalogue_as_the_spec_says(spec: dict[str, Any]) -> None:
    mapping = request_mapping(spec, "/v1/rerank")
    assert set(mapping) == set(RERANK_MODELS) - set(NOT_IN_SPEC)
    mapping.update({name: mapping[same] for name, same in NOT_IN_SPEC.items()})
    for name, schema_name in mapping.items():
        schema = spec["components"]["schemas"][schema_name]
        model = RERANK_MODELS[name]
        assert model.schema == schema_name, name
        assert model.fields == set(schema["properties"]) - REQUEST_KEYS, name
        assert model.modalities == _modalities(schema["properties"]["documents"]), name


def test_context_lengths_the_spec_states() -> None:
    # "v3 (8K context), v4 (32K), v5-text-small (32K), v5-text-nano (8K)", reranker-v3 "131K"
    expected = {
        "jina-embeddings-v3": 8192,
        "jina-embeddings-v4": 32768,
        "jina-embeddings-v5-text-small": 32768,
        "jina-embeddings-v5-text-nano": 8192,
    }
    assert {name: context_length(name) for name in expected} == expected
    assert RERANK_MODELS["jina-reranker-v3"].context_length == 131072
    assert context_length("jina-embeddings-v9") == 8192  # unknown: the smallest published


# ---------------------------------------------------------------- components refuse what a model lacks


@pytest.mark.parametrize(
    ("model", "kwargs", "problem"),
    [
        ("jina-embeddings-v2-base-en", {"late_chunking": True}, "has no `late_chunking` parameter"),
        ("jina-embeddings-v5-text-small", {"late_chunking": True}, "has no `late_chunking` parameter"),
        ("jina-clip-v2", {"late_chunking": True}, "has no `late_chunking` parameter"),
        ("jina-code-embeddings-1.5b", {"late_chunking": True}, "has no `late_chunking` parameter"),
        ("jina-embeddings-v4", {"normalized": True}, "has no `normalized` parameter"),
        ("jina-code-embeddings-0.5b", {"normalized": False}, "has no `normalized` parameter"),
        ("jina-embeddings-v2-base-de", {"task": "retrieval.query"}, "has no `task` parameter"),
        ("jina-clip-v1", {"dimensions": 256}, "has no `dimensions` parameter"),
        ("jina-embeddings-v5-text-nano", {"task": "separation"}, "has no task 'separation'"),
        ("jina-code-embeddings-0.5b", {"task": "retrieval.query"}, "has no task 'retrieval.query'"),
        ("jina-embeddings-v3", {"dimensions": 2048}, "cannot give 2048 dimensions"),
        ("jina-code-embeddings-0.5b", {"dimensions": 1024}, "cannot give 1024 dimensions"),
    ],
)
@pytest.mark.parametrize("component", [JinaTextEmbedder, JinaDocumentEmbedder])
def test_a_parameter_the_known_model_lacks_fails_at_construction(
    api_key: Secret, component: type, model: str, kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        component(api_key=api_key, model=model, **kwargs)
    message = str(info.value)
    assert message.startswith(model) and "It accepts the parameters " in message
    # named as the constructor takes them: fields without a parameter (v4's return_multivector) are not offered
    offered = set(inspect.signature(component.__init__).parameters)
    listed = re.sub(r" \([^)]*\)", "", message.split("It accepts the parameters ", 1)[1].split(";", maxsplit=1)[0])
    accepted = listed.split(", ")
    assert accepted and set(accepted) <= offered and set(accepted) <= EMBEDDING_MODELS[model].fields
    assert "return_multivector" not in message and "return_tokenized_input" not in message


def test_late_chunking_false_passes_for_every_model(api_key: Secret) -> None:
    for model in DENSE_TEXT:
        JinaDocumentEmbedder(api_key=api_key, model=model, late_chunking=False)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("jina-colbert-v2", "one vector per token.*JinaRanker"),
        ("jina-colbert-v1-en", "one vector per token"),
        ("elser-v2", "sparse vectors"),
        ("jina-reranker-v2-base-multilingual", "is a reranker"),
    ],
)
def test_models_whose_output_is_not_one_dense_vector_are_refused(api_key: Secret, model: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        JinaTextEmbedder(api_key=api_key, model=model)


def test_image_embedder_refuses_text_models_and_what_clip_v1_lacks(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="jina-embeddings-v3 does not take images"):
        JinaDocumentImageEmbedder(api_key=api_key, model="jina-embeddings-v3")
    with pytest.raises(ValueError, match="jina-clip-v1 has no `task` parameter"):
        JinaDocumentImageEmbedder(api_key=api_key, model="jina-clip-v1", task="retrieval.query")
    with pytest.raises(ValueError, match="jina-clip-v1 has no `embedding_dimension` parameter"):
        JinaDocumentImageEmbedder(api_key=api_key, model="jina-clip-v1", embedding_dimension=64)


def test_ranker_checks_its_model(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="jina-embeddings-v3 is an embedding model, not a reranker"):
        JinaRanker("jina-embeddings-v3", api_key)
    with pytest.raises(ValueError, match="jina-reranker-v2-base-multilingual has no `max_doc_length`"):
        JinaRanker("jina-reranker-v2-base-multilingual", api_key, max_doc_length=512)
    with pytest.raises(ValueError, match="from 1 to 8192"):
        JinaRanker("jina-reranker-v3", api_key, max_doc_length=9000)
    with pytest.raises(ValueError, match=r"jina-reranker-v3 takes max_doc_length .* from 1 to 8192") as info:
        JinaRanker("jina-reranker-v3", api_key, max_doc_length=8193)
    assert "8193" in str(info.value)


WRONG_TYPES = [
    ({"dimensions": True}, "dimensions"),
    ({"truncate": "yes"}, "truncate"),
    ({"normalized": "x"}, "normalized"),
    ({"late_chunking": 0}, "late_chunking"),
    ({"task": 1}, "task"),
]


@pytest.mark.parametrize("model", ["jina-embeddings-v3", "some-future-model"])
@pytest.mark.parametrize(("options", "name"), WRONG_TYPES)
@pytest.mark.parametrize("component", [JinaTextEmbedder, JinaDocumentEmbedder])
def test_a_value_of_the_wrong_type_fails_at_construction_naming_it(
    component: type, options: dict[str, Any], name: str, model: str, emulator: JinaEmulator, api_key: Secret
) -> None:
    # sent as they are, the API would answer 422 at run time (or, for `late_chunking=0`, take it as false)
    with pytest.raises(ValueError, match=f"^{name} must be"):
        component(api_key=api_key, model=model, base_url=emulator.embeddings_url, **options)
    assert emulator.requests == []


def test_ranker_top_k_of_the_wrong_type_fails_before_any_request(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(ValueError, match="top_k must be"):
        JinaRanker(api_key=api_key, base_url=emulator.rerank_url, top_k=2.5)  # type: ignore[arg-type]
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url)
    with pytest.raises(ValueError, match="top_k must be"):
        ranker.run("pizza", [Document(content="pizza")], top_k=2.5)  # type: ignore[arg-type]
    assert emulator.requests == []


def test_unknown_models_pass_through_with_a_debug_log(
    api_key: Secret, emulator: JinaEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        embedder = JinaTextEmbedder(
            api_key=api_key, model="jina-embeddings-v9", task="anything", late_chunking=True, dimensions=99999
        )
        JinaRanker("jina-reranker-v9", api_key, max_doc_length=100000)
    assert embedder.task == "anything"
    assert "jina-embeddings-v9" in caplog.text and "jina-reranker-v9" in caplog.text
    check_embedding_model("jina-embeddings-v9", {"normalized": True})  # no error


# ---------------------------------------------------------------- every family works end to end


def _valid_task(model: str) -> str | None:
    tasks = EMBEDDING_MODELS[model].tasks
    passages = [task for task in tasks if task.endswith("passage")]
    return (passages or list(tasks) or [None])[0]


@pytest.mark.parametrize("model", DENSE_TEXT)
def test_every_dense_model_embeds_text(emulator: JinaEmulator, api_key: Secret, model: str) -> None:
    known = EMBEDDING_MODELS[model]
    text = JinaTextEmbedder(api_key=api_key, model=model, base_url=emulator.embeddings_url, task=_valid_task(model))
    assert len(text.run("a query about pizza")["embedding"]) == known.native_dimensions
    documents = JinaDocumentEmbedder(
        api_key=api_key, model=model, base_url=emulator.embeddings_url, progress_bar=False, truncate=True
    ).run([Document(content="pizza from Naples"), Document(content="bread from Berlin")])["documents"]
    assert all(len(d.embedding or []) == known.native_dimensions for d in documents)
    assert {r.json["model"] for r in emulator.requests} == {model}


@pytest.mark.parametrize("model", [name for name in DENSE_TEXT if EMBEDDING_MODELS[name].dimensions])
def test_matryoshka_models_truncate(emulator: JinaEmulator, api_key: Secret, model: str) -> None:
    embedder = JinaTextEmbedder(api_key=api_key, model=model, base_url=emulator.embeddings_url, dimensions=64)
    assert len(embedder.run("hello")["embedding"]) == 64


@pytest.mark.parametrize("model", ["jina-embeddings-v3", "jina-embeddings-v4"])
def test_late_chunking_models_late_chunk(emulator: JinaEmulator, api_key: Secret, model: str) -> None:
    chunks = [Document(content=f"part {i}", meta={"source_id": "s", "split_id": i}) for i in range(3)]
    embedder = JinaDocumentEmbedder(
        api_key=api_key, model=model, base_url=emulator.embeddings_url, late_chunking=True, progress_bar=False
    )
    assert all(d.embedding for d in embedder.run(chunks)["documents"])
    (request,) = emulator.requests
    assert request.json["late_chunking"] is True


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_every_multimodal_model_embeds_images(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path, model: str
) -> None:
    Image.new("RGB", (64, 48), "red").save(tmp_path / "red.png")
    embedder = JinaDocumentImageEmbedder(
        api_key=api_key, model=model, base_url=emulator.embeddings_url, progress_bar=False
    )
    (document,) = embedder.run([Document(meta={"file_path": str(tmp_path / "red.png")})])["documents"]
    assert len(document.embedding or []) == EMBEDDING_MODELS[model].native_dimensions


@pytest.mark.parametrize("model", sorted(RERANK_MODELS))
def test_every_reranker_ranks(emulator: JinaEmulator, api_key: Secret, model: str) -> None:
    ranker = JinaRanker(model, api_key, top_k=2, base_url=emulator.rerank_url)
    documents = [Document(content=text) for text in ("Paris is in France", "Berlin is in Germany", "Bananas")]
    ranked = ranker.run("city in Germany", documents)["documents"]
    assert [d.content for d in ranked] == ["Berlin is in Germany", "Paris is in France"]
    assert emulator.requests[0].json["model"] == model


def test_ranker_sends_max_doc_length_only_when_set(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content="word " * 30 + "Germany"), Document(content="Germany")]
    default = JinaRanker("jina-reranker-v3", api_key, base_url=emulator.rerank_url)
    short = JinaRanker("jina-reranker-v3", api_key, base_url=emulator.rerank_url, max_doc_length=8)
    assert default.run("Germany", documents)["documents"][1].score > 0
    cut = short.run("Germany", documents)["documents"]
    assert cut[1].content.startswith("word") and cut[1].score == 0.0  # its match lies beyond 8 tokens
    first, second = emulator.requests
    assert "max_doc_length" not in first.json and second.json["max_doc_length"] == 8
    assert short.to_dict()["init_parameters"]["max_doc_length"] == 8
    assert "max_doc_length" not in default.to_dict()["init_parameters"]
    assert JinaRanker.from_dict(short.to_dict()).max_doc_length == 8


# ---------------------------------------------------------------- the emulator speaks the catalogue


def post(emulator: JinaEmulator, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    return requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "jina-embeddings-v2-base-en", "late_chunking": False}, "late_chunking"),
        ({"model": "jina-embeddings-v4", "normalized": True}, "normalized"),
        ({"model": "jina-clip-v1", "task": "retrieval.query"}, "task"),
        ({"model": "jina-embeddings-v3", "input_type": "query"}, "input_type"),
    ],
)
@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_emulator_answers_422_for_a_field_the_model_lacks(
    emulator: JinaEmulator, body: dict[str, Any], field: str
) -> None:
    response = post(emulator, {"input": ["hello"], **body})
    assert response.status_code == 422
    answer = response.json()
    assert f"has no field {field!r}" in answer["detail"] and answer["errors"][0]["field"] == field


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_emulator_answers_400_for_an_unknown_model(emulator: JinaEmulator) -> None:
    response = post(emulator, {"model": "jina-embeddings-v9", "input": ["hello"]})
    assert response.status_code == 400 and response.json()["code"] == "INPUT_MODEL_NOT_FOUND"


def test_emulator_answers_colbert_with_a_vector_per_token(emulator: JinaEmulator) -> None:
    body = {"model": "jina-colbert-v2", "input": ["two words"], "input_type": "query", "dimensions": 64}
    (item,) = post(emulator, body).json()["data"]
    assert item["object"] == "embeddings" and len(item["embeddings"]) == 2
    assert all(len(vector) == 64 for vector in item["embeddings"])
    document = post(emulator, {**body, "input_type": "document"}).json()["data"][0]["embeddings"]
    assert document != item["embeddings"]


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_emulator_refuses_colbert_dimensions_the_spec_does_not_list(emulator: JinaEmulator) -> None:
    body = {"model": "jina-colbert-v2", "input": ["two words"], "dimensions": 100}
    assert post(emulator, body).status_code == 422  # 64, 96 or 128 only


def test_emulator_answers_elser_with_sparse_weights(emulator: JinaEmulator) -> None:
    (item,) = post(emulator, {"model": "elser-v2", "input": ["pizza pizza bread"]}).json()["data"]
    assert set(item["embedding"]) == {"pizza", "bread"}
    assert item["embedding"]["pizza"] > item["embedding"]["bread"]


def test_the_readme_tables_list_every_model_with_its_context() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name, model in {**EMBEDDING_MODELS, **RERANK_MODELS}.items():
        rows = [line for line in readme.splitlines() if line.startswith(f"| `{name}`")]
        assert rows, f"README has no table row for {name}"
        assert all(f" {model.context_length} |" in row for row in rows), rows
