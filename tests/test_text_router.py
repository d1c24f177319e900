"""JinaTextRouter against the emulator over real HTTP, alone and in pipelines.

No `from __future__ import annotations`: the test component `Branch` needs real socket types on Haystack 2.20.
"""

import asyncio
from typing import Any

import pytest
from haystack import Pipeline, component
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.components.classifiers.jina import train_classifier
from haystack_integrations.components.routers.jina import JinaTextRouter
from haystack_integrations.testing.jina import JinaEmulator

LABELS = ["weather", "cooking"]


@pytest.fixture
def router(emulator: JinaEmulator, api_key: Secret) -> JinaTextRouter:
    return JinaTextRouter(LABELS, api_key=api_key, base_url=emulator.classify_url)


@component
class Branch:
    """Records what reached it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @component.output_types(answer=str)
    def run(self, text: str) -> dict[str, Any]:
        self.seen.append(text)
        return {"answer": text.upper()}


def test_routes_the_text_to_the_output_of_its_label(router: JinaTextRouter, emulator: JinaEmulator) -> None:
    assert router.run("Will the weather be rainy tomorrow?") == {"weather": "Will the weather be rainy tomorrow?"}
    assert router.run("A cooking recipe for pancakes") == {"cooking": "A cooking recipe for pancakes"}
    bodies = [r.json for r in emulator.requests_to("/v1/classify")]
    assert bodies[0] == {
        "model": "jina-embeddings-v3",
        "labels": LABELS,
        "input": ["Will the weather be rainy tomorrow?"],
    }


def test_one_output_socket_per_label_and_only_the_winning_branch_runs(router: JinaTextRouter) -> None:
    assert set(router.__haystack_output__._sockets_dict) == set(LABELS)  # type: ignore[attr-defined]
    weather, cooking = Branch(), Branch()
    pipeline = Pipeline()
    pipeline.add_component("router", router)
    pipeline.add_component("weather", weather)
    pipeline.add_component("cooking", cooking)
    pipeline.connect("router.weather", "weather.text")
    pipeline.connect("router.cooking", "cooking.text")
    result = pipeline.run({"router": {"text": "is cooking pasta hard"}})
    assert result == {"cooking": {"answer": "IS COOKING PASTA HARD"}}
    assert weather.seen == [] and cooking.seen == ["is cooking pasta hard"]


def test_a_pipeline_with_the_router_survives_yaml(router: JinaTextRouter) -> None:
    pipeline = Pipeline()
    pipeline.add_component("router", router)
    loaded = Pipeline.loads(pipeline.dumps())
    assert loaded.run({"router": {"text": "weather report"}}) == {"router": {"weather": "weather report"}}
    assert loaded.get_component("router").to_dict() == router.to_dict()


def test_a_trained_classifier_routes_with_the_labels_given_for_the_sockets(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    examples = [("rain and wind", "weather"), ("sunny skies", "weather"), ("bake bread", "cooking")]
    classifier_id = train_classifier(examples, api_key=api_key, base_url=emulator.train_url)
    router = JinaTextRouter(LABELS, classifier_id=classifier_id, api_key=api_key, base_url=emulator.classify_url)
    assert router.run("strong wind and rain") == {"weather": "strong wind and rain"}
    assert emulator.requests_to("/v1/classify")[-1].json == {
        "classifier_id": classifier_id,
        "input": ["strong wind and rain"],
    }

    mismatched = JinaTextRouter(
        ["a", "b"], classifier_id=classifier_id, api_key=api_key, base_url=emulator.classify_url
    )
    with pytest.raises(JinaInputError, match="not one of this router's labels"):
        mismatched.run("bake a cake")


def test_bad_input_and_settings(router: JinaTextRouter) -> None:
    with pytest.raises(TypeError, match="expects a str"):
        router.run(["weather"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty text"):
        router.run("  ")
    with pytest.raises(ValueError, match="list of label strings"):
        JinaTextRouter({"g": ["a"]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate"):
        JinaTextRouter(["a", "a"])
    with pytest.raises(ValueError, match="cannot classify"):
        JinaTextRouter(LABELS, model="jina-colbert-v2")
    with pytest.raises(ValueError, match="classifier_id must be"):
        JinaTextRouter(LABELS, classifier_id="")


def test_run_async_and_serialization(router: JinaTextRouter) -> None:
    assert asyncio.run(router.run_async("weather today")) == {"weather": "weather today"}
    data = router.to_dict()
    assert data["type"] == "haystack_integrations.components.routers.jina.text_router.JinaTextRouter"
    assert data["init_parameters"]["labels"] == LABELS
    assert "jina_emulator_key" not in repr(data)
    assert JinaTextRouter.from_dict(data).to_dict() == data
