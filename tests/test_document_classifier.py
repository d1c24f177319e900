"""JinaDocumentClassifier against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import io
import math
from pathlib import Path
from typing import Any

import pytest
from haystack import Document, Pipeline
from haystack.utils import Secret
from page_server import PageServer
from PIL import Image

from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaInputError, JinaMalformedResponseError
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier, train_classifier
from haystack_integrations.testing.jina import JinaEmulator

TYPE = "haystack_integrations.components.classifiers.jina.document_classifier.JinaDocumentClassifier"
LABELS = ["sports", "cooking"]


def docs() -> list[Document]:
    return [
        Document(content="Boil the pasta, cooking takes nine minutes", meta={"n": 0}),
        Document(content="The football team won the sports final", meta={"n": 1}),
        Document(content="Cooking rice: rinse it, then cooking it slowly", meta={"n": 2}),
    ]


def sent(emulator: JinaEmulator) -> list[dict[str, Any]]:
    return [request.json for request in emulator.requests_to("/v1/classify")]


@pytest.fixture
def classifier(emulator: JinaEmulator, api_key: Secret) -> JinaDocumentClassifier:
    return JinaDocumentClassifier(LABELS, api_key=api_key, base_url=emulator.classify_url, progress_bar=False)


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    for colour in ("red", "blue"):
        Image.new("RGB", (40, 30), colour).save(tmp_path / f"{colour}.png")
    return tmp_path


# ---------------------------------------------------------------- zero-shot text


def test_classifies_each_document_in_haystacks_shape_and_keeps_the_inputs(
    classifier: JinaDocumentClassifier, emulator: JinaEmulator
) -> None:
    inputs = docs()
    result = classifier.run(inputs)
    assert [d.meta["classification"]["label"] for d in result["documents"]] == ["cooking", "sports", "cooking"]
    for document, original in zip(result["documents"], inputs, strict=True):
        classification = document.meta["classification"]
        assert set(classification) == {"label", "score", "details"}
        assert set(classification["details"]) == set(LABELS)
        assert classification["score"] == max(classification["details"].values())
        assert math.isclose(sum(classification["details"].values()), 1.0)
        assert document.id == original.id and document.meta["n"] == original.meta["n"]
        assert "classification" not in original.meta  # the inputs are not changed
    (body,) = sent(emulator)
    assert body == {"model": "jina-embeddings-v3", "labels": LABELS, "input": [d.content for d in inputs]}
    assert result["meta"]["model"] == "jina-embeddings-v3"
    assert result["meta"]["usage"]["total_tokens"] > 0
    # failures raise with the default raise_on_failure=True: meta holds no list of them (as the embedders)
    assert "failed_documents" not in result["meta"]
    classifier.raise_on_failure = False
    assert classifier.run(inputs)["meta"]["failed_documents"] == []


def test_grouped_labels_give_one_classification_per_group(emulator: JinaEmulator, api_key: Secret) -> None:
    groups = {"topic": ["sports", "cooking"], "mood": ["happy", "sad"]}
    classifier = JinaDocumentClassifier(groups, api_key=api_key, base_url=emulator.classify_url, progress_bar=False)
    (document,) = classifier.run([Document(content="a sad day: the sports team lost")])["documents"]
    classification = document.meta["classification"]
    assert set(classification) == {"topic", "mood"}
    assert classification["topic"]["label"] == "sports"
    assert classification["mood"]["label"] == "sad"
    assert set(classification["mood"]["details"]) == {"happy", "sad"}
    assert sent(emulator)[0]["labels"] == groups


def test_text_comes_from_classification_field_and_meta_fields_and_goes_to_output_meta_field(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    classifier = JinaDocumentClassifier(
        LABELS,
        api_key=api_key,
        base_url=emulator.classify_url,
        classification_field="summary",
        meta_fields_to_embed=["title"],
        embedding_separator=" | ",
        output_meta_field="topic",
        progress_bar=False,
    )
    document = Document(content="ignored", meta={"title": "Kitchen", "summary": "cooking pasta"})
    (out,) = classifier.run([document])["documents"]
    assert sent(emulator)[0]["input"] == ["Kitchen | cooking pasta"]
    assert out.meta["topic"]["label"] == "cooking"
    assert "classification" not in out.meta


def test_documents_are_sent_in_batches_concurrently_and_come_back_in_order(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    many = [Document(content=f"{'cooking' if i % 2 else 'sports'} item {i}") for i in range(7)]
    classifier = JinaDocumentClassifier(
        LABELS, api_key=api_key, base_url=emulator.classify_url, batch_size=2, max_concurrency=4, progress_bar=False
    )
    result = classifier.run(many)
    assert sorted(len(body["input"]) for body in sent(emulator)) == [1, 2, 2, 2]
    assert [d.content for d in result["documents"]] == [d.content for d in many]
    assert [d.meta["classification"]["label"] for d in result["documents"]] == [
        "cooking" if i % 2 else "sports" for i in range(7)
    ]


def test_empty_input_sends_nothing(classifier: JinaDocumentClassifier, emulator: JinaEmulator) -> None:
    assert classifier.run([])["documents"] == []
    assert sent(emulator) == []


# ---------------------------------------------------------------- images


def test_clip_classifies_image_documents_and_text_documents_in_one_call(
    emulator: JinaEmulator, api_key: Secret, pictures: Path
) -> None:
    classifier = JinaDocumentClassifier(
        ["a red picture", "a blue picture"],
        model="jina-clip-v2",
        api_key=api_key,
        base_url=emulator.classify_url,
        root_path=str(pictures),
        image_size=(16, 16),
        progress_bar=False,
    )
    inputs = [
        Document(meta={"file_path": "blue.png"}),
        Document(content="something blue"),
        Document(content="", meta={"file_path": "red.png"}),
    ]
    result = classifier.run(inputs)
    labels = [d.meta["classification"]["label"] for d in result["documents"]]
    assert labels == ["a blue picture", "a blue picture", "a red picture"]
    (body,) = sent(emulator)
    assert body["input"][1] == "something blue"
    assert set(body["input"][0]) == {"image"} and not body["input"][0]["image"].startswith("data:")
    with Image.open(io.BytesIO(base64.b64decode(body["input"][2]["image"]))) as sent_image:
        assert max(sent_image.size) <= 16  # shrunk to fit image_size


def test_an_image_url_is_sent_as_the_url_and_a_pdf_url_is_refused(
    emulator: JinaEmulator, api_key: Secret, pictures: Path, pages: PageServer
) -> None:
    # the image conventions are common/jina/images.py's, shared with JinaRanker: an image URL goes as
    # `ImageDoc` for Jina to fetch, a PDF URL is refused (classify takes images, not PDFs) before any request
    url = pages.add("/red.png", (pictures / "red.png").read_bytes(), content_type="image/png")
    classifier = JinaDocumentClassifier(
        ["a red picture", "a blue picture"],
        model="jina-clip-v2",
        api_key=api_key,
        base_url=emulator.classify_url,
        progress_bar=False,
    )
    result = classifier.run([Document(meta={"file_path": url}), Document(content="something blue")])
    (body,) = sent(emulator)
    assert body["input"] == [{"image": url}, "something blue"]
    assert [path for path, _ in pages.requests] == ["/red.png"]  # fetched by the emulator, not by the classifier
    assert result["documents"][0].meta["classification"]["label"] == "a red picture"

    emulator.reset()
    pdf = Document(id="remote-pdf", meta={"file_path": pages.url + "/report.pdf"})
    with pytest.raises(JinaInputError, match=r"classify the image of document remote-pdf .*report\.pdf.*a PDF"):
        classifier.run([Document(content="something blue"), pdf])
    assert sent(emulator) == []


def test_a_text_model_refuses_image_options_at_construction() -> None:
    with pytest.raises(ValueError, match="does not take images"):
        JinaDocumentClassifier(LABELS, model="jina-embeddings-v4", root_path="/tmp")
    with pytest.raises(ValueError, match="trained classifier classifies text only"):
        JinaDocumentClassifier(classifier_id="c", image_size=(64, 64))


def test_documents_that_cannot_be_classified_are_named_or_listed_and_all_come_back(
    emulator: JinaEmulator, api_key: Secret, pictures: Path
) -> None:
    inputs = [
        Document(content="cooking pasta"),
        Document(meta={"file_path": str(pictures / "red.png")}),  # an image, for a text model
        Document(content="   "),  # no text, no image
    ]
    strict = JinaDocumentClassifier(LABELS, api_key=api_key, base_url=emulator.classify_url, progress_bar=False)
    with pytest.raises(JinaInputError, match=inputs[1].id) as raised:
        strict.run(inputs)
    assert "does not take images" in str(raised.value)
    assert sent(emulator) == []  # found before any request

    lenient = JinaDocumentClassifier(
        LABELS, api_key=api_key, base_url=emulator.classify_url, raise_on_failure=False, progress_bar=False
    )
    result = lenient.run(inputs)
    assert [d.id for d in result["documents"]] == [d.id for d in inputs]
    assert result["documents"][0].meta["classification"]["label"] == "cooking"
    assert "classification" not in result["documents"][1].meta
    failed = {f["id"]: f["error"] for f in result["meta"]["failed_documents"]}
    assert set(failed) == {inputs[1].id, inputs[2].id}
    assert "no text and no image" in failed[inputs[2].id]
    assert sent(emulator)[-1]["input"] == ["cooking pasta"]


def test_a_failed_request_fails_its_batch_only_without_raise_on_failure(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    emulator.inject("status", status=400, detail="bad batch", when=lambda r: "football" in r.body.decode())
    classifier = JinaDocumentClassifier(
        LABELS,
        api_key=api_key,
        base_url=emulator.classify_url,
        batch_size=1,
        raise_on_failure=False,
        progress_bar=False,
    )
    inputs = docs()
    result = classifier.run(inputs)
    failed = result["meta"]["failed_documents"]
    assert [f["id"] for f in failed] == [inputs[1].id]
    assert "bad batch" in failed[0]["error"]
    assert [("classification" in d.meta) for d in result["documents"]] == [True, False, True]

    emulator.inject("status", status=400, detail="bad batch")
    strict = JinaDocumentClassifier(LABELS, api_key=api_key, base_url=emulator.classify_url, progress_bar=False)
    with pytest.raises(JinaBadRequestError, match="bad batch"):
        strict.run(inputs)


def test_a_malformed_answer_raises(classifier: JinaDocumentClassifier, emulator: JinaEmulator) -> None:
    emulator.inject("wrong_count")
    with pytest.raises(JinaMalformedResponseError, match="2 predictions for 3 inputs"):
        classifier.run(docs())


# ---------------------------------------------------------------- few-shot


def test_a_trained_classifier_is_used_by_id_without_model_or_labels(emulator: JinaEmulator, api_key: Secret) -> None:
    examples = [("boil the pasta", "kitchen"), ("fry an egg", "kitchen"), ("kick the ball", "field")]
    classifier_id = train_classifier(examples, api_key=api_key, base_url=emulator.train_url)
    classifier = JinaDocumentClassifier(
        classifier_id=classifier_id, api_key=api_key, base_url=emulator.classify_url, progress_bar=False
    )
    result = classifier.run([Document(content="fry the pasta"), Document(content="kick it")])
    assert [d.meta["classification"]["label"] for d in result["documents"]] == ["kitchen", "field"]
    assert sent(emulator)[0] == {"classifier_id": classifier_id, "input": ["fry the pasta", "kick it"]}
    assert result["meta"]["classifier_id"] == classifier_id


# ---------------------------------------------------------------- construction, serialization, pipelines


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({}, "exactly one"),
        ({"labels": LABELS, "classifier_id": "c"}, "exactly one"),
        ({"labels": []}, "non-empty list"),
        ({"labels": ["a", "a"]}, "duplicate"),
        ({"labels": [f"l{i}" for i in range(513)]}, "at most 512"),
        ({"labels": {f"g{i}": ["a"] for i in range(9)}}, "at most 8"),
        ({"labels": {"g": [f"l{i}" for i in range(65)]}}, "at most 64"),
        ({"labels": LABELS, "batch_size": 513}, "1 to 512"),
        ({"labels": LABELS, "model": "jina-reranker-m0"}, "cannot classify"),
        ({"labels": LABELS, "base_url": "api.jina.ai/v1/classify"}, "absolute http"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        JinaDocumentClassifier(**kwargs)


def test_to_dict_from_dict_round_trip_without_the_key(classifier: JinaDocumentClassifier) -> None:
    data = classifier.to_dict()
    assert data["type"] == TYPE
    assert data["init_parameters"]["labels"] == LABELS
    assert data["init_parameters"]["api_key"] == {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True}
    assert "jina_emulator_key" not in repr(data) + repr(classifier)
    again = JinaDocumentClassifier.from_dict(data)
    assert again.to_dict() == data
    with pytest.raises(ValueError, match="Cannot serialize token-based secret"):
        JinaDocumentClassifier(LABELS, api_key=Secret.from_token("jina_secret")).to_dict()


def test_runs_in_a_pipeline_and_async(classifier: JinaDocumentClassifier) -> None:
    pipeline = Pipeline()
    pipeline.add_component("classifier", classifier)
    loaded = Pipeline.loads(pipeline.dumps())
    result = loaded.run({"classifier": {"documents": docs()}})
    assert [d.meta["classification"]["label"] for d in result["classifier"]["documents"]] == [
        "cooking",
        "sports",
        "cooking",
    ]
    async_result = asyncio.run(classifier.run_async(docs()))
    assert [d.meta["classification"] for d in async_result["documents"]] == [
        d.meta["classification"] for d in result["classifier"]["documents"]
    ]
