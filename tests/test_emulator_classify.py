"""The emulator's /v1/classify, /v1/train and /v1/classifiers: answers as the spec shapes them, limits, error codes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import jina_spec
import pytest
import requests

from haystack_integrations.testing.jina import JinaEmulator

V3 = "jina-embeddings-v3"
LIMIT = "INPUT_LABEL_LIMIT_EXCEEDED"
TEXTS = [{"text": "boil the pasta", "label": "cooking"}, {"text": "score a goal", "label": "sports"}]


@pytest.fixture(scope="module")
def open_emulator() -> Iterator[JinaEmulator]:
    """Any key is accepted, so tests can act as several users (each test with keys of its own)."""
    with JinaEmulator(api_key=None) as emulator:
        yield emulator


@pytest.fixture
def user_a() -> str:
    return f"jina_user_{uuid.uuid4().hex}"


@pytest.fixture
def user_b() -> str:
    return f"jina_user_{uuid.uuid4().hex}"


def post(emulator: JinaEmulator, path: str, body: Any, key: str) -> requests.Response:
    return requests.post(f"{emulator.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_zero_shot_answer_matches_the_response_schema(open_emulator: JinaEmulator, user_a: str) -> None:
    spec = jina_spec.load_spec()
    if spec is None:
        pytest.skip(jina_spec.MISSING_REASON)
    from jsonschema import Draft202012Validator

    body = {"model": "jina-embeddings-v3", "labels": {"topic": ["cooking", "sports"]}, "input": "cooking pasta"}
    answer = post(open_emulator, "/v1/classify", body, user_a)
    assert answer.status_code == 200, answer.text
    schema = {"$ref": "#/components/schemas/ClassificationResponse", "components": spec["components"]}
    assert list(Draft202012Validator(schema).iter_errors(answer.json())) == []
    (item,) = answer.json()["data"]
    assert item["prediction"] == {"topic": "cooking"}
    assert item["predictions"]["topic"][0]["label"] == "cooking"  # best first


@pytest.mark.nonconforming
@pytest.mark.parametrize(
    ("body", "status", "code_or_detail"),
    [
        ({"model": "jina-embeddings-v9", "labels": ["a"], "input": ["x"]}, 400, "INPUT_MODEL_NOT_FOUND"),
        ({"model": V3, "labels": [f"l{i}" for i in range(513)], "input": ["x"]}, 400, LIMIT),
        ({"model": V3, "labels": {f"g{i}": ["a"] for i in range(9)}, "input": ["x"]}, 400, LIMIT),
        ({"model": V3, "labels": {"g": [f"l{i}" for i in range(65)]}, "input": ["x"]}, 400, LIMIT),
        ({"model": V3, "labels": ["a"], "input": ["x"] * 513}, 422, "at most 512"),
        ({"model": V3, "labels": ["a"], "input": [{"image": "QUJD"}]}, 422, "takes text only"),
        ({"model": V3, "labels": ["a", "a"], "input": ["x"]}, 422, "duplicate"),
        ({"model": V3, "input": ["x"]}, 422, "labels is required"),
        ({"model": V3, "labels": ["a"], "input": [""]}, 422, "empty string"),
        ({"model": V3, "labels": ["a"], "input": ["x"], "task": "classification"}, 422, "no field"),
        ({"classifier_id": "nope", "input": ["x"]}, 404, "RESOURCE_NOT_FOUND"),
    ],
)  # fmt: skip
def test_classify_refusals(
    open_emulator: JinaEmulator, body: dict[str, Any], status: int, code_or_detail: str, user_a: str
) -> None:
    answer = post(open_emulator, "/v1/classify", body, user_a)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert code_or_detail in (error.get("code") or "") + error["detail"]


@pytest.mark.nonconforming
@pytest.mark.parametrize(
    ("body", "status", "code_or_detail"),
    [
        ({"model": V3, "input": TEXTS[:1]}, 422, "2 to 512"),
        ({"model": V3, "input": [TEXTS[0], TEXTS[0]]}, 400, "INPUT_INVALID_LABELS"),
        ({"model": "jina-code-embeddings-0.5b", "input": TEXTS}, 400, "INPUT_MODEL_NOT_FOUND"),
        ({"model": V3, "input": TEXTS, "access": "friends"}, 422, "access"),
        ({"model": V3, "input": TEXTS, "num_iters": 0}, 422, "num_iters"),
        ({"model": V3, "input": [*TEXTS, {"image": "QUJD", "label": "x"}]}, 422, "takes text only"),
        ({"model": V3, "input": [{"text": f"t{i}", "label": f"l{i}"} for i in range(17)]}, 400, LIMIT),
    ],
)  # fmt: skip
def test_train_refusals(
    open_emulator: JinaEmulator, body: dict[str, Any], status: int, code_or_detail: str, user_a: str
) -> None:
    answer = post(open_emulator, "/v1/train", body, user_a)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert code_or_detail in (error.get("code") or "") + error["detail"]


def test_access_defaults_to_public_and_private_classifiers_are_their_owners_only(
    open_emulator: JinaEmulator, user_a: str, user_b: str
) -> None:
    public = post(open_emulator, "/v1/train", {"model": "jina-embeddings-v3", "input": TEXTS}, user_a).json()[
        "classifier_id"
    ]
    private = post(
        open_emulator, "/v1/train", {"model": "jina-embeddings-v3", "input": TEXTS, "access": "private"}, user_a
    ).json()["classifier_id"]
    for classifier_id, other_can_use in ((public, True), (private, False)):
        answer = post(open_emulator, "/v1/classify", {"classifier_id": classifier_id, "input": ["goal"]}, user_b)
        assert (answer.status_code == 200) is other_can_use, answer.text
        update = {"classifier_id": classifier_id, "input": TEXTS[:1]}
        assert post(open_emulator, "/v1/train", update, user_b).status_code == 404  # only the owner updates
    listed = requests.get(
        f"{open_emulator.url}/v1/classifiers", headers={"Authorization": f"Bearer {user_a}"}, timeout=10
    )
    assert {entry["classifier_id"]: entry["access"] for entry in listed.json()} == {
        public: "public",
        private: "private",
    }
    others = requests.post(
        f"{open_emulator.url}/v1/classifiers", headers={"Authorization": f"Bearer {user_b}"}, timeout=10
    )
    assert others.json() == []


def test_few_shot_is_nearest_centroid_and_updates_move_it(open_emulator: JinaEmulator, user_a: str) -> None:
    trained = post(
        open_emulator, "/v1/train", {"model": "jina-embeddings-v3", "input": TEXTS, "access": "private"}, user_a
    )
    classifier_id = trained.json()["classifier_id"]
    assert trained.json()["num_samples"] == 2

    def label(text: str) -> str:
        answer = post(open_emulator, "/v1/classify", {"classifier_id": classifier_id, "input": text}, user_a)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["data"][0]["prediction"])

    assert label("boil water") == "cooking"
    assert label("tennis match") in ("cooking", "sports")
    update = {"classifier_id": classifier_id, "input": [{"text": "tennis match", "label": "sports"}]}
    assert post(open_emulator, "/v1/train", update, user_a).status_code == 200
    assert label("tennis match") == "sports"


def test_delete_removes_a_classifier_for_its_owner_only(open_emulator: JinaEmulator, user_a: str, user_b: str) -> None:
    classifier_id = post(open_emulator, "/v1/train", {"model": "jina-embeddings-v3", "input": TEXTS}, user_a).json()[
        "classifier_id"
    ]
    url = f"{open_emulator.url}/v1/classifiers/{classifier_id}"
    assert requests.delete(url, headers={"Authorization": f"Bearer {user_b}"}, timeout=10).status_code == 404
    assert requests.delete(url, headers={"Authorization": f"Bearer {user_a}"}, timeout=10).status_code == 200
    answer = post(open_emulator, "/v1/classify", {"classifier_id": classifier_id, "input": ["x"]}, user_a)
    assert answer.status_code == 404


def test_sixteen_classifiers_per_key(open_emulator: JinaEmulator, user_a: str, user_b: str) -> None:
    body = {"model": "jina-embeddings-v3", "input": TEXTS, "access": "private"}
    for _ in range(16):
        assert post(open_emulator, "/v1/train", body, user_a).status_code == 200
    refused = post(open_emulator, "/v1/train", body, user_a)
    assert refused.status_code == 403
    assert refused.json()["code"] == "AUTHZ_RESOURCE_LIMIT_EXCEEDED"
    assert post(open_emulator, "/v1/train", body, user_b).status_code == 200  # per key
