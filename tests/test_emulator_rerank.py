"""The emulator's `POST /v1/rerank`, spoken to over HTTP like the real API."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import requests
from page_server import PageServer
from PIL import Image, ImageDraw

from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.routes_rerank import MAX_DOCUMENTS

QUERY = "What is a transformer model?"
DOCS = [
    "I love cheese and wine.",
    "A transformer is a deep learning model built on attention.",
    "Transformers are robots in disguise.",
    "Paris is the capital of France.",
]


def post(emulator: JinaEmulator, body: Any, key: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or emulator.api_key}"}
    return requests.post(emulator.rerank_url, json=body, headers=headers, timeout=10)


def rerank(emulator: JinaEmulator, **body: Any) -> dict[str, Any]:
    response = post(emulator, {"model": "jina-reranker-v1-base-en", "query": QUERY, "documents": DOCS, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_results_are_sorted_by_a_lexical_relevance_score(emulator: JinaEmulator) -> None:
    body = rerank(emulator)
    results = body["results"]
    assert body["model"] == "jina-reranker-v1-base-en"
    assert [r["index"] for r in results][:2] == [1, 2]  # both mention a transformer; 1 also "model"
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s < 1.0 for s in scores)
    assert scores[-1] < 0.1 < scores[0]


def test_return_documents_defaults_to_true_and_can_be_turned_off(emulator: JinaEmulator) -> None:
    with_docs = rerank(emulator)["results"]
    assert all(r["document"] == {"text": DOCS[r["index"]]} for r in with_docs)
    without = rerank(emulator, return_documents=False)["results"]
    assert all(set(r) == {"index", "relevance_score"} for r in without)


def test_top_n_limits_results_and_may_exceed_the_documents(emulator: JinaEmulator) -> None:
    assert [r["index"] for r in rerank(emulator, top_n=2)["results"]] == [1, 2]
    assert len(rerank(emulator, top_n=99)["results"]) == len(DOCS)


def test_text_objects_are_accepted_like_strings(emulator: JinaEmulator) -> None:
    plain = rerank(emulator)["results"]
    response = post(
        emulator,
        {
            "model": "jina-reranker-v2-base-multilingual",
            "query": QUERY,  # the spec's query is a string; documents may be TextDoc objects
            "documents": [{"text": d} for d in DOCS],
        },
    )
    assert response.status_code == 200
    assert [r["relevance_score"] for r in response.json()["results"]] == [r["relevance_score"] for r in plain]


def test_usage_counts_query_and_document_tokens(emulator: JinaEmulator) -> None:
    body = rerank(emulator, documents=["one two", "three"])
    # query: 6 tokens (5 words and "?"), each document is read together with it
    assert body["usage"] == {"total_tokens": (6 + 2) + (6 + 1)}


def test_pointwise_scores_do_not_depend_on_the_other_documents(emulator: JinaEmulator) -> None:
    alone = rerank(emulator, documents=[DOCS[1]])["results"][0]["relevance_score"]
    together = {r["index"]: r["relevance_score"] for r in rerank(emulator)["results"]}
    assert together[1] == alone


def test_listwise_v3_scores_depend_on_the_request(emulator: JinaEmulator) -> None:
    def score_of_doc_1(documents: list[str]) -> float:
        body = rerank(emulator, model="jina-reranker-v3", documents=documents)
        return next(r["relevance_score"] for r in body["results"] if r["index"] == 1)

    assert score_of_doc_1(DOCS) != score_of_doc_1([DOCS[0], DOCS[1], "a transformer", "transformer"])


def test_empty_documents_score_zero(emulator: JinaEmulator) -> None:
    results = rerank(emulator, documents=["", DOCS[1]])["results"]
    assert results[-1] == {"index": 0, "relevance_score": 0.0, "document": {"text": ""}}


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"query": ""}, "query must not be empty"),
        ({"query": 3}, "query must be a string"),
        ({"query": {"text": QUERY}}, "query must be a string"),
        ({"max_doc_length": 100}, "has no field 'max_doc_length'"),
        ({"model": "jina-reranker-v3", "max_doc_length": 0}, "max_doc_length must be an integer from 1 to 8192"),
        ({"model": "jina-reranker-v3", "max_doc_length": None}, "max_doc_length must be an integer"),
        ({"truncation": "yes"}, "truncation must be a boolean"),
        ({"documents": []}, "documents must be a non-empty list"),
        ({"documents": "text"}, "documents must be a non-empty list"),
        ({"documents": ["ok", 5]}, "documents[1] must be a string"),
        ({"documents": ["x"] * (MAX_DOCUMENTS + 1)}, f"at most {MAX_DOCUMENTS} are allowed"),
        ({"documents": [{"image": "https://x/y.png"}]}, "is a text reranker"),
        ({"model": "jina-reranker-m0", "documents": [{"image": "data:image/png;base64,QUJD"}]}, "a data: URI"),
        ({"model": "jina-reranker-m0", "documents": ["ok", {"image": "not base64!"}]}, "documents[1]: the image is"),
        ({"model": "jina-reranker-m0", "documents": [{"image": "QUJD"}]}, "documents[0]: could not decode"),
        ({"model": "jina-reranker-m0", "documents": [{"image": 5}]}, "documents[0].image must be a URL or a base64"),
        ({"model": "jina-reranker-m0", "documents": [{"image": "QUJD", "text": "x"}]}, "{'image': ...} alone"),
        ({"model": "jina-reranker-m0", "documents": [{"pdf": "QUJD"}]}, "documents[0] must be a string"),
        ({"top_n": 0}, "top_n must be a positive integer"),
        ({"top_n": True}, "top_n must be a positive integer"),
        ({"top_n": "3"}, "top_n must be a positive integer"),
        ({"return_documents": "no"}, "return_documents must be a boolean"),
    ],
)
@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_invalid_bodies_get_422_with_detail(emulator: JinaEmulator, change: dict[str, Any], detail: str) -> None:
    body = {"model": "jina-reranker-v1-base-en", "query": QUERY, "documents": DOCS, **change}
    response = post(emulator, body)
    assert response.status_code == 422
    assert detail in response.json()["detail"]


@pytest.mark.parametrize("model", ["jina-embeddings-v3", None, "jina-reranker-v9"])
@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_unknown_model_is_400_input_model_not_found(emulator: JinaEmulator, model: str | None) -> None:
    response = post(emulator, {"model": model, "query": QUERY, "documents": DOCS})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INPUT_MODEL_NOT_FOUND" and "not found" in body["detail"] and body["request_id"]


def test_v3_reads_only_max_doc_length_tokens_of_each_document(emulator: JinaEmulator) -> None:
    late = "filler " * 50 + "transformer model"
    documents = [late, "A transformer model."]
    full = rerank(emulator, model="jina-reranker-v3", documents=documents)["results"]
    cut = rerank(emulator, model="jina-reranker-v3", documents=documents, max_doc_length=10)["results"]
    score = {r["index"]: r["relevance_score"] for r in full}
    assert score[0] > 0
    assert {r["index"]: r["relevance_score"] for r in cut}[0] == 0.0  # its match lies beyond 10 tokens


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_non_object_and_non_json_bodies_are_rejected(emulator: JinaEmulator) -> None:
    assert post(emulator, [1, 2]).status_code == 422
    response = requests.post(
        emulator.rerank_url, data=b"{nope", headers={"Authorization": f"Bearer {emulator.api_key}"}, timeout=10
    )
    assert response.status_code == 400


def test_wrong_key_is_401(emulator: JinaEmulator) -> None:
    response = post(emulator, {"model": "jina-reranker-v1-base-en", "query": QUERY, "documents": DOCS}, key="nope")
    assert response.status_code == 401
    assert "Invalid API key" in response.json()["detail"]


def test_fault_injection_applies_to_rerank(emulator: JinaEmulator) -> None:
    emulator.inject("wrong_count", path="/v1/rerank")
    assert len(rerank(emulator)["results"]) == len(DOCS) - 1
    emulator.inject("status", path="/v1/rerank", status=429, retry_after=2)
    response = post(emulator, {"model": "jina-reranker-v1-base-en", "query": QUERY, "documents": DOCS})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert len(emulator.requests_to("/v1/rerank")) == 2


# ---------------------------------------------------------------- images (jina-reranker-m0)


def square(colour: str, size: int = 96) -> str:
    """Plain base64 of a PNG: a `colour` square on white."""
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).rectangle((size // 6, size // 6, size * 5 // 6, size * 5 // 6), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def m0(emulator: JinaEmulator, query: str, documents: list[Any], **body: Any) -> dict[str, Any]:
    response = post(emulator, {"model": "jina-reranker-m0", "query": query, "documents": documents, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_m0_ranks_images_by_what_the_query_names_deterministically(emulator: JinaEmulator) -> None:
    images = [{"image": square(colour)} for colour in ("green", "red", "blue")]
    body = m0(emulator, "a red square", images)
    results = body["results"]
    assert results[0]["index"] == 1
    assert all(0.0 <= r["relevance_score"] < 1.0 for r in results)
    assert results[0]["relevance_score"] > 2 * results[1]["relevance_score"]
    assert results[0]["document"] == images[1]  # return_documents gives the ImageDoc back
    assert m0(emulator, "a red square", images) == body  # the same bytes give the same scores
    assert m0(emulator, "something blue", images)["results"][0]["index"] == 2


def test_m0_image_scores_are_pointwise_and_mix_with_text(emulator: JinaEmulator) -> None:
    red = {"image": square("red")}
    alone = m0(emulator, "red transformer", [red])["results"][0]["relevance_score"]
    mixed = m0(emulator, "red transformer", [DOCS[1], red, {"text": DOCS[0]}], return_documents=False)["results"]
    scores = {r["index"]: r["relevance_score"] for r in mixed}
    assert scores[1] == alone
    text_alone = m0(emulator, "red transformer", [DOCS[1]])["results"][0]["relevance_score"]
    assert scores[0] == text_alone > scores[2]


def test_m0_image_usage_counts_tiles(emulator: JinaEmulator) -> None:
    # the query: 2 tokens; a 96x96 image: one 512x512 tile, 1000 tokens (the emulator's convention)
    assert m0(emulator, "red square", [{"image": square("red")}])["usage"] == {"total_tokens": 1002}


def test_m0_fetches_an_image_url(emulator: JinaEmulator, pages: PageServer) -> None:
    url = pages.add("/red.png", base64.b64decode(square("red")), content_type="image/png")
    by_url = m0(emulator, "red", [{"image": url}, {"image": square("blue")}])["results"]
    inline = m0(emulator, "red", [{"image": square("red")}])["results"][0]["relevance_score"]
    assert by_url[0] == {"index": 0, "relevance_score": inline, "document": {"image": url}}
    assert [path for path, _ in pages.requests] == ["/red.png"]
