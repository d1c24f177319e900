"""Scores in an answer are checked before they reach a Document (issue 28, items 5 and 6)."""

from __future__ import annotations

from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, answer

from haystack_integrations.common.jina.errors import JinaMalformedResponseError
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.routers.jina import JinaTextRouter

KEY = Secret.from_token("k")
LABELS = ["sports", "politics"]


def classify_answer(prediction: str, score: float, candidates: list[tuple[str, Any]]) -> dict[str, Any]:
    predictions = [{"label": label, "score": value} for label, value in candidates]
    item = {"index": 0, "object": "classification", "prediction": prediction, "score": score}
    return {"data": [{**item, "predictions": predictions}], "usage": {"total_tokens": 1}}


BAD_ANSWERS = {
    "a label never sent": (
        classify_answer("sports", 0.6, [("sports", 0.6), ("politics", 0.3), ("weather", 0.99)]),
        "'weather' is not one of the labels sent",
    ),
    "a duplicated candidate": (
        classify_answer("sports", 0.6, [("sports", 0.6), ("politics", 0.3), ("sports", 0.1)]),
        "'sports' appears twice",
    ),
    "a missing candidate": (
        classify_answer("sports", 0.6, [("sports", 0.6)]),
        r"no score for the candidate labels \['politics'\]",
    ),
    "a candidate score above 1": (
        classify_answer("sports", 0.6, [("sports", 7.5), ("politics", 0.3)]),
        "not a label with a score from 0 to 1",
    ),
    "a candidate score below 0": (
        classify_answer("sports", 0.6, [("sports", 0.6), ("politics", -3.0)]),
        "not a label with a score from 0 to 1",
    ),
    "a predicted score above 1": (
        classify_answer("sports", 7.5, [("sports", 0.6), ("politics", 0.3)]),
        "score 7.5 is not a number from 0 to 1",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_the_classifier_refuses_candidates_it_did_not_ask_for(case: str) -> None:
    body, problem = BAD_ANSWERS[case]
    with HostileServer(answer(body)) as server:
        classifier = JinaDocumentClassifier(LABELS, api_key=KEY, base_url=server.url, max_retries=0, progress_bar=False)
        with pytest.raises(JinaMalformedResponseError, match=problem):
            classifier.run([Document(content="the match")])


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_the_router_refuses_candidates_it_did_not_ask_for(case: str) -> None:
    body, problem = BAD_ANSWERS[case]
    with HostileServer(answer(body)) as server:
        router = JinaTextRouter(LABELS, api_key=KEY, base_url=server.url, max_retries=0)
        with pytest.raises(JinaMalformedResponseError, match=problem):
            router.run("the match")


def test_a_trained_classifier_may_not_repeat_or_omit_its_prediction() -> None:
    # the labels of a trained classifier are not in the request: its answer is checked against itself
    for candidates, problem in (
        ([("a", 0.5), ("a", 0.5)], "'a' appears twice"),
        ([("b", 0.5)], r"no score for the candidate labels \['a'\]"),
    ):
        with HostileServer(answer(classify_answer("a", 0.5, candidates))) as server:
            classifier = JinaDocumentClassifier(
                classifier_id="c1", api_key=KEY, base_url=server.url, max_retries=0, progress_bar=False
            )
            with pytest.raises(JinaMalformedResponseError, match=problem):
                classifier.run([Document(content="text")])


def test_a_well_formed_answer_still_passes() -> None:
    body = classify_answer("sports", 1, [("sports", 1), ("politics", 0)])
    with HostileServer(answer(body)) as server:
        router = JinaTextRouter(LABELS, api_key=KEY, base_url=server.url, max_retries=0)
        assert router.run("the match")["sports"] == "the match"


@pytest.mark.parametrize("score", [10**400, -(10**400), 2**64])
def test_the_ranker_refuses_a_huge_relevance_score(score: int) -> None:
    body = {"model": "m", "usage": {"total_tokens": 1}, "results": [{"index": 0, "relevance_score": score}]}
    with HostileServer(answer(body)) as server:
        ranker = JinaRanker(api_key=KEY, base_url=server.url, max_retries=0)
        with pytest.raises(JinaMalformedResponseError, match="relevance_score"):
            ranker.run("query", [Document(content="a document")])
