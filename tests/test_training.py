"""train_classifier against the emulator over real HTTP: private by default, large sets split, bad input refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.common.jina.errors import JinaError
from haystack_integrations.components.classifiers.jina import delete_classifier, list_classifiers, train_classifier
from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.routes_classify import classifiers_of

PAIRS = [("boil the pasta", "cooking"), ("score a goal", "sports")]


def bodies(emulator: JinaEmulator) -> list[dict[str, Any]]:
    return [r.json for r in emulator.requests_to("/v1/train")]


def test_a_new_classifier_is_private_unless_asked(emulator: JinaEmulator, api_key: Secret) -> None:
    classifier_id = train_classifier(PAIRS, api_key=api_key, base_url=emulator.train_url)
    (body,) = bodies(emulator)
    assert body == {
        "model": "jina-embeddings-v3",
        "access": "private",
        "input": [{"text": "boil the pasta", "label": "cooking"}, {"text": "score a goal", "label": "sports"}],
    }
    assert classifiers_of(emulator)[classifier_id].access == "private"
    public = train_classifier(PAIRS, access="public", num_iters=3, api_key=api_key, base_url=emulator.train_url)
    assert bodies(emulator)[-1]["access"] == "public" and bodies(emulator)[-1]["num_iters"] == 3
    assert classifiers_of(emulator)[public].access == "public"


def test_documents_with_labels_in_meta_and_images(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    Image.new("RGB", (20, 20), "red").save(tmp_path / "red.png")
    examples = [
        Document(content="a red apple", meta={"kind": "red"}),
        Document(meta={"kind": "red", "file_path": "red.png"}),
        Document(content="the blue sea", meta={"kind": "blue"}),
    ]
    classifier_id = train_classifier(
        examples, model="jina-clip-v2", label_meta_field="kind", root_path=str(tmp_path), api_key=api_key,
        base_url=emulator.train_url,
    )  # fmt: skip
    (body,) = bodies(emulator)
    assert [item["label"] for item in body["input"]] == ["red", "red", "blue"]
    assert set(body["input"][1]) == {"image", "label"}
    assert classifiers_of(emulator)[classifier_id].model == "jina-clip-v2"


def test_an_update_sends_only_the_id_and_the_examples(emulator: JinaEmulator, api_key: Secret) -> None:
    classifier_id = train_classifier(PAIRS, api_key=api_key, base_url=emulator.train_url)
    again = train_classifier(
        [("fry an egg", "cooking")], classifier_id=classifier_id, api_key=api_key, base_url=emulator.train_url
    )
    assert again == classifier_id
    assert bodies(emulator)[-1] == {
        "classifier_id": classifier_id,
        "input": [{"text": "fry an egg", "label": "cooking"}],
    }
    assert classifiers_of(emulator)[classifier_id].updated_number == 1


def test_more_than_512_examples_create_then_update_one_classifier(emulator: JinaEmulator, api_key: Secret) -> None:
    examples = [(f"cooking text {i}", "cooking") for i in range(600)] + [("sports text", "sports")]
    classifier_id = train_classifier(examples, api_key=api_key, base_url=emulator.train_url)
    first, second = bodies(emulator)
    assert len(first["input"]) == 512 and len(second["input"]) == 89
    assert {item["label"] for item in first["input"]} == {"cooking", "sports"}  # the API wants two labels in it
    assert second["classifier_id"] == classifier_id and "model" not in second and "access" not in second


@pytest.mark.parametrize(
    ("examples", "kwargs", "problem"),
    [
        ([("only one", "a")], {}, "at least 2 examples"),
        ([("one", "a"), ("two", "a")], {}, "2 distinct labels"),
        ([("text", "a"), ("", "b")], {}, "example 1 must be"),
        ([("text", "a"), ("more", "")], {}, "example 1 has no label"),
        ([Document(content="x"), Document(content="y", meta={"label": "b"})], {}, "document"),
        (PAIRS, {"access": "everyone"}, "access must be"),
        (PAIRS, {"num_iters": 0}, "num_iters"),
        (PAIRS, {"model": "jina-code-embeddings-0.5b"}, "cannot train"),
        ([], {"classifier_id": "c"}, "examples is empty"),
    ],
)
def test_bad_examples_and_settings_are_refused_before_any_request(
    examples: list[Any], kwargs: dict[str, Any], problem: str, emulator: JinaEmulator, api_key: Secret
) -> None:
    with pytest.raises(ValueError, match=problem):
        train_classifier(examples, api_key=api_key, base_url=emulator.train_url, **kwargs)
    assert bodies(emulator) == []


def test_images_need_a_model_that_trains_on_them(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), "red").save(tmp_path / "red.png")
    examples = [
        Document(meta={"label": "red", "file_path": str(tmp_path / "red.png")}),
        Document(content="x", meta={"label": "b"}),
    ]
    with pytest.raises(ValueError, match="does not take images for training"):
        train_classifier(examples, model="jina-embeddings-v3", api_key=api_key, base_url=emulator.train_url)


def test_a_pdf_url_is_refused_as_a_training_image(emulator: JinaEmulator, api_key: Secret) -> None:
    examples = [
        Document(id="remote-pdf", meta={"label": "report", "file_path": "https://example.org/report.pdf"}),
        Document(content="x", meta={"label": "b"}),
    ]
    with pytest.raises(ValueError, match=r"document remote-pdf .*report\.pdf.*a PDF"):
        train_classifier(examples, model="jina-clip-v2", api_key=api_key, base_url=emulator.train_url)
    assert bodies(emulator) == []


def test_api_errors_come_back_as_jina_errors_without_the_key(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(JinaError, match="not found") as raised:
        train_classifier(PAIRS[:1], classifier_id="no-such-id", api_key=api_key, base_url=emulator.train_url)
    assert raised.value.code == "RESOURCE_NOT_FOUND"
    assert emulator.api_key not in str(raised.value)


def test_list_and_delete(emulator: JinaEmulator, api_key: Secret) -> None:
    classifier_id = train_classifier(PAIRS, api_key=api_key, base_url=emulator.train_url)
    classifiers_url = f"{emulator.url}/v1/classifiers"
    (listed,) = list_classifiers(api_key=api_key, base_url=classifiers_url)
    assert listed["classifier_id"] == classifier_id
    assert listed["labels"] == ["cooking", "sports"] and listed["access"] == "private"
    delete_classifier(classifier_id, api_key=api_key, base_url=classifiers_url)
    assert emulator.requests[-1].method == "DELETE"
    assert emulator.requests[-1].path == f"/v1/classifiers/{classifier_id}"
    assert list_classifiers(api_key=api_key, base_url=classifiers_url) == []
    with pytest.raises(JinaError, match="not found") as raised:
        delete_classifier(classifier_id, api_key=api_key, base_url=classifiers_url)
    assert raised.value.status_code == 404
