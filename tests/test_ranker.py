"""JinaRanker against the emulator over real HTTP."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import (
    JinaAuthenticationError,
    JinaBadRequestError,
    JinaMalformedResponseError,
    JinaRateLimitError,
    JinaServerError,
)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.rankers.jina.ranker import MAX_DOCUMENTS_PER_REQUEST, parse_rerank_response
from haystack_integrations.testing.jina import JinaEmulator

TYPE = "haystack_integrations.components.rankers.jina.ranker.JinaRanker"
QUERY = "What is a transformer?"


def make_docs() -> list[Document]:
    return [
        Document(content="I love cheese", meta={"lang": "en"}),
        Document(content="A transformer is a deep learning architecture", meta={"lang": "en"}),
        Document(content="Transformers are robots in disguise"),
        Document(content="Paris is the capital of France"),
    ]


@pytest.fixture
def ranker(emulator: JinaEmulator, api_key: Secret) -> JinaRanker:
    return JinaRanker(api_key=api_key, base_url=emulator.rerank_url)


def sent(emulator: JinaEmulator) -> list[dict[str, Any]]:
    return [request.json for request in emulator.requests_to("/v1/rerank")]


# ---------------------------------------------------------------- construction and serialization


def test_to_dict_matches_published_shape(api_key: Secret) -> None:
    assert JinaRanker(api_key=api_key).to_dict() == {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "model": "jina-reranker-v1-base-en",
            "base_url": "https://api.jina.ai/v1/rerank",
            "top_k": None,
            "score_threshold": None,
        },
    }


def test_positional_parameters_keep_the_published_order(api_key: Secret) -> None:
    ranker = JinaRanker("jina-reranker-v2-base-multilingual", api_key, 3, 0.25)
    assert (ranker.model, ranker.api_key, ranker.top_k, ranker.score_threshold) == (
        "jina-reranker-v2-base-multilingual",
        api_key,
        3,
        0.25,
    )


def test_round_trip_with_all_parameters(api_key: Secret) -> None:
    original = JinaRanker(
        "jina-reranker-v3",
        api_key,
        5,
        0.0,
        base_url="http://x/v1/rerank",
        meta_fields_to_embed=["title"],
        embedding_separator=" | ",
        timeout=7.5,
        max_retries=2,
        max_concurrency=3,
    )
    data = original.to_dict()
    assert data["init_parameters"]["score_threshold"] == 0.0
    restored = JinaRanker.from_dict(data)
    assert restored.to_dict() == data
    assert restored._client.timeout == 7.5
    assert restored._client.max_retries == 2


def test_published_yaml_init_parameters_still_load(emulator: JinaEmulator, api_key: Secret) -> None:
    published = {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "model": "jina-reranker-v1-base-en",
            "base_url": emulator.rerank_url,
            "top_k": 2,
            "score_threshold": None,
        },
    }
    ranker = JinaRanker.from_dict(published)
    assert len(ranker.run(QUERY, make_docs())["documents"]) == 2


def test_token_secret_refuses_to_serialize_and_never_shows(emulator: JinaEmulator) -> None:
    ranker = JinaRanker(api_key=Secret.from_token("sk-very-secret"), base_url=emulator.rerank_url)
    with pytest.raises(ValueError, match="Cannot serialize token-based secret"):
        ranker.to_dict()
    assert "sk-very-secret" not in repr(ranker)
    with pytest.raises(JinaAuthenticationError) as info:
        ranker.run(QUERY, make_docs())
    assert "sk-very-secret" not in str(info.value)
    assert info.value.status_code == 401


def test_missing_key_fails_at_the_first_run_not_at_construction(
    emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    ranker = JinaRanker(base_url=emulator.rerank_url)
    with pytest.raises(JinaAuthenticationError, match="JINA_API_KEY"):
        ranker.run(QUERY, make_docs())
    assert not emulator.requests


@pytest.mark.parametrize("top_k", [0, -1])
def test_top_k_must_be_positive_at_init(api_key: Secret, top_k: int) -> None:
    with pytest.raises(ValueError, match=f"top_k must be > 0, but got {top_k}"):
        JinaRanker(api_key=api_key, top_k=top_k)


# ---------------------------------------------------------------- ranking


def test_run_ranks_best_first_and_returns_scored_copies(ranker: JinaRanker, emulator: JinaEmulator) -> None:
    docs = make_docs()
    result = ranker.run(QUERY, docs)

    ranked = result["documents"]
    assert [d.content for d in ranked[:2]] == [docs[1].content, docs[2].content]
    assert len(ranked) == len(docs)
    scores = [d.score for d in ranked]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    # copies: same id, content and meta; inputs untouched
    by_id = {d.id: d for d in docs}
    for doc in ranked:
        original = by_id[doc.id]
        assert doc is not original
        assert (doc.content, doc.meta) == (original.content, original.meta)
        assert doc.meta is not original.meta
    assert all(d.score is None for d in docs)

    assert result["meta"]["model"] == "jina-reranker-v1-base-en"
    assert result["meta"]["usage"]["total_tokens"] > 0
    assert sent(emulator) == [
        {
            "model": "jina-reranker-v1-base-en",
            "query": QUERY,
            "documents": [d.content for d in docs],
            "return_documents": False,
        }
    ]


def test_top_k_from_init_is_sent_as_top_n(emulator: JinaEmulator, api_key: Secret) -> None:
    ranker = JinaRanker(api_key=api_key, top_k=2, base_url=emulator.rerank_url)
    ranked = ranker.run(QUERY, make_docs())["documents"]
    assert [d.content for d in ranked] == [
        "A transformer is a deep learning architecture",
        "Transformers are robots in disguise",
    ]
    assert sent(emulator)[0]["top_n"] == 2


def test_run_top_k_overrides_init_and_is_capped_by_the_documents(emulator: JinaEmulator, api_key: Secret) -> None:
    ranker = JinaRanker(api_key=api_key, top_k=2, base_url=emulator.rerank_url)
    assert len(ranker.run(QUERY, make_docs(), top_k=1)["documents"]) == 1
    assert len(ranker.run(QUERY, make_docs(), top_k=10)["documents"]) == 4
    assert [body["top_n"] for body in sent(emulator)] == [1, 4]


@pytest.mark.parametrize("top_k", [0, -3])
def test_run_top_k_must_be_positive(ranker: JinaRanker, emulator: JinaEmulator, top_k: int) -> None:
    with pytest.raises(ValueError, match=f"top_k must be > 0, but got {top_k}"):
        ranker.run(QUERY, make_docs(), top_k=top_k)
    assert sent(emulator) == []


def test_score_threshold_keeps_documents_at_or_above_it(ranker: JinaRanker) -> None:
    all_docs = ranker.run(QUERY, make_docs())["documents"]
    threshold = all_docs[1].score
    kept = ranker.run(QUERY, make_docs(), score_threshold=threshold)["documents"]
    assert [d.id for d in kept] == [d.id for d in all_docs[:2]]


def test_zero_is_a_value_not_unset(emulator: JinaEmulator, api_key: Secret) -> None:
    ranker = JinaRanker(api_key=api_key, score_threshold=0.9, base_url=emulator.rerank_url)
    assert ranker.run(QUERY, make_docs())["documents"] == []
    # 0.0 at run time overrides 0.9: every score is >= 0, so all documents come back
    assert len(ranker.run(QUERY, make_docs(), score_threshold=0.0)["documents"]) == 4
    assert len(ranker.run(QUERY, make_docs(), score_threshold=0)["documents"]) == 4


def test_threshold_dropping_everything_still_reports_meta(emulator: JinaEmulator, api_key: Secret) -> None:
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url)
    result = ranker.run(QUERY, make_docs(), score_threshold=0.99)
    assert result["documents"] == []
    assert result["meta"]["model"] == "jina-reranker-v1-base-en"
    assert result["meta"]["usage"]["total_tokens"] > 0


def test_empty_documents_return_meta_without_a_request(ranker: JinaRanker, emulator: JinaEmulator) -> None:
    assert ranker.run(QUERY, []) == {"documents": [], "meta": {"model": "jina-reranker-v1-base-en", "usage": {}}}
    assert sent(emulator) == []


@pytest.mark.parametrize("query", ["", "   \n"])
def test_empty_query_is_a_clear_value_error(ranker: JinaRanker, emulator: JinaEmulator, query: str) -> None:
    with pytest.raises(ValueError, match="non-empty query"):
        ranker.run(query, make_docs())
    assert sent(emulator) == []


def test_wrong_input_types_are_type_errors(ranker: JinaRanker) -> None:
    with pytest.raises(TypeError, match="query as a string"):
        ranker.run(None, make_docs())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of Documents"):
        ranker.run(QUERY, ["a string"])  # type: ignore[list-item]


def test_documents_without_content_are_ranked_as_empty_text(ranker: JinaRanker, emulator: JinaEmulator) -> None:
    docs = [Document(content=None, meta={"n": 1}), *make_docs()]
    ranked = ranker.run(QUERY, docs)["documents"]
    assert sent(emulator)[0]["documents"][0] == ""
    assert len(ranked) == len(docs)
    empty = next(d for d in ranked if d.id == docs[0].id)
    assert empty.content is None
    assert empty.score == 0.0
    assert min(d.score for d in ranked) == 0.0


def test_meta_fields_are_ranked_with_the_content(emulator: JinaEmulator, api_key: Secret) -> None:
    docs = [
        Document(content="It has an encoder and a decoder.", meta={"title": "Transformer"}),
        Document(
            content="A transformer is mentioned once among words about wine.", meta={"title": "Cheese", "year": None}
        ),
    ]
    plain = JinaRanker(api_key=api_key, base_url=emulator.rerank_url).run("transformer", docs)["documents"]
    assert plain[0].id == docs[1].id  # on content alone, only the second document matches
    emulator.reset()
    ranker = JinaRanker(
        api_key=api_key,
        base_url=emulator.rerank_url,
        meta_fields_to_embed=["title", "year", "missing"],
        embedding_separator=" | ",
    )
    ranked = ranker.run("transformer", docs)["documents"]
    assert sent(emulator)[0]["documents"] == [
        "Transformer | It has an encoder and a decoder.",
        "Cheese | A transformer is mentioned once among words about wine.",
    ]
    assert ranked[0].id == docs[0].id  # with its title, the first matches too, and is shorter
    assert ranked[0].meta == {"title": "Transformer"}


def test_equal_scores_keep_the_input_order(ranker: JinaRanker) -> None:
    docs = [Document(content="cheese"), Document(id="b", content="bread"), Document(id="c", content="bread")]
    ranked = ranker.run("wine", docs)["documents"]
    assert [d.id for d in ranked] == [docs[0].id, "b", "c"]


def test_session_is_reused_across_runs(ranker: JinaRanker, emulator: JinaEmulator) -> None:
    for _ in range(3):
        ranker.run(QUERY, make_docs())
    assert emulator.connections == 1


async def test_run_async_matches_run(ranker: JinaRanker) -> None:
    expected = ranker.run(QUERY, make_docs(), top_k=3)
    result = await ranker.run_async(QUERY, make_docs(), top_k=3)
    assert result == expected


# ---------------------------------------------------------------- large candidate lists


def candidates(count: int) -> list[Document]:
    words = ["transformer", "attention", "cheese", "robot", "paris", "model"]
    return [
        Document(content=f"doc {i} " + " ".join(words[(i * j) % len(words)] for j in range(1 + i % 7)))
        for i in range(count)
    ]


def test_large_lists_are_split_sent_concurrently_and_merged(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = candidates(95)
    whole = JinaRanker(api_key=api_key, base_url=emulator.rerank_url).run("transformer attention model", docs)
    emulator.reset()

    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url, max_concurrency=4)
    monkeypatch.setattr(ranker, "max_documents_per_request", 20)
    emulator.latency = 0.2
    split = ranker.run("transformer attention model", docs)

    bodies = sent(emulator)
    assert sorted(len(b["documents"]) for b in bodies) == [15, 20, 20, 20, 20]
    assert sorted(text for b in bodies for text in b["documents"]) == sorted(d.content for d in docs)
    assert emulator.max_in_flight == 4  # 5 requests, 4 at a time
    # the emulator's pointwise scores do not depend on the request, so the merge is exact
    assert [(d.id, d.score) for d in split["documents"]] == [(d.id, d.score) for d in whole["documents"]]
    assert split["meta"]["usage"]["total_tokens"] == whole["meta"]["usage"]["total_tokens"]


def test_split_requests_each_ask_for_top_k(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = candidates(45)
    whole = JinaRanker(api_key=api_key, base_url=emulator.rerank_url).run("robot paris", docs, top_k=7)
    emulator.reset()
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url, top_k=7)
    monkeypatch.setattr(ranker, "max_documents_per_request", 20)
    result = ranker.run("robot paris", docs)
    assert sorted(b["top_n"] for b in sent(emulator)) == [5, 7, 7]
    assert [d.id for d in result["documents"]] == [d.id for d in whole["documents"]]


def test_the_real_limit_splits_above_2048_documents(ranker: JinaRanker, emulator: JinaEmulator) -> None:
    docs = candidates(2 * MAX_DOCUMENTS_PER_REQUEST + 5)
    result = ranker.run("cheese robot", docs, top_k=3)
    assert sorted(len(b["documents"]) for b in sent(emulator)) == [5, 2048, 2048]  # the emulator answers 422 above 2048
    assert len(result["documents"]) == 3


def test_splitting_with_a_listwise_model_warns(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ranker = JinaRanker("jina-reranker-v3", api_key, base_url=emulator.rerank_url)
    monkeypatch.setattr(ranker, "max_documents_per_request", 10)
    with caplog.at_level(logging.WARNING):
        ranker.run("robot", candidates(25))
    assert "listwise" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        ranker.run("robot", candidates(10))
    assert "listwise" not in caplog.text


def test_one_failing_part_fails_the_run(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url, max_retries=0)
    monkeypatch.setattr(ranker, "max_documents_per_request", 10)
    emulator.inject("status", path="/v1/rerank", status=500, when=lambda r: "doc 15 " in str(r.json["documents"]))
    with pytest.raises(JinaServerError, match="HTTP 500"):
        ranker.run("robot", candidates(30))


# ---------------------------------------------------------------- errors and validation of answers


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_unknown_model_is_a_bad_request_with_the_server_detail(emulator: JinaEmulator, api_key: Secret) -> None:
    ranker = JinaRanker("no-such-reranker", api_key, base_url=emulator.rerank_url)
    with pytest.raises(JinaBadRequestError, match="Model 'no-such-reranker' not found") as info:
        ranker.run(QUERY, make_docs())
    assert info.value.status_code == 400 and info.value.code == "INPUT_MODEL_NOT_FOUND"
    assert emulator.api_key not in str(info.value)


def test_transient_errors_are_retried(ranker: JinaRanker, emulator: JinaEmulator) -> None:
    emulator.inject("status", path="/v1/rerank", status=503, times=2)
    assert len(ranker.run(QUERY, make_docs())["documents"]) == 4
    assert len(sent(emulator)) == 3


def test_rate_limit_honours_retry_after_then_gives_up(emulator: JinaEmulator, api_key: Secret) -> None:
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url, max_retries=1)
    # a 429 that names no limit of the key (the IP's) spends the retry budget; the key's own are flow control
    emulator.inject("status", path="/v1/rerank", status=429, code="RATE_IP_LIMIT_EXCEEDED", retry_after=0.3, times=2)
    started = time.perf_counter()
    with pytest.raises(JinaRateLimitError):
        ranker.run(QUERY, make_docs())
    assert time.perf_counter() - started >= 0.3
    assert len(sent(emulator)) == 2


@pytest.mark.parametrize("kind", ["wrong_count", "malformed"])
def test_malformed_answers_raise(ranker: JinaRanker, emulator: JinaEmulator, kind: str) -> None:
    emulator.inject(kind, path="/v1/rerank")
    with pytest.raises(JinaMalformedResponseError):
        ranker.run(QUERY, make_docs())


def good_result(index: int, score: float = 0.5) -> dict[str, Any]:
    return {"index": index, "relevance_score": score}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"detail": "?"}, "no 'results' list"),
        ([], "no 'results' list"),
        ({"results": [good_result(0)]}, "1 results where 2 were asked for"),
        ({"results": [good_result(0), good_result(2)]}, "index 2 is not in 0..1"),
        ({"results": [good_result(0), good_result(-1)]}, "index -1 is not in 0..1"),
        ({"results": [good_result(0), {"index": True, "relevance_score": 1}]}, "index True"),
        ({"results": [good_result(1), good_result(1)]}, "index 1 appears twice"),
        ({"results": [good_result(0), {"index": 1}]}, "no numeric relevance_score"),
        ({"results": [good_result(0), {"index": 1, "relevance_score": "0.3"}]}, "no numeric relevance_score"),
        ({"results": [good_result(0), {"index": 1, "relevance_score": float("nan")}]}, "no numeric relevance_score"),
        ({"results": [good_result(0), "x"]}, "index None"),
    ],
)
def test_response_validation(body: Any, problem: str) -> None:
    with pytest.raises(JinaMalformedResponseError, match="Malformed rerank response from http://h/v1/rerank") as info:
        parse_rerank_response(body, 2, 2, "http://h/v1/rerank")
    assert problem in str(info.value)


def test_response_validation_accepts_top_n_answers() -> None:
    result = parse_rerank_response(
        {"model": "m", "usage": {"total_tokens": 9, "note": "x"}, "results": [good_result(3, 0.9), good_result(0, 1)]},
        2,
        5,
        "u",
    )
    assert result.scores == {3: 0.9, 0: 1.0}
    assert (result.model, result.usage) == ("m", {"total_tokens": 9})


# ---------------------------------------------------------------- pipelines


def test_pipeline_retrieves_with_bm25_then_reranks_and_survives_yaml(emulator: JinaEmulator, api_key: Secret) -> None:
    store = InMemoryDocumentStore()
    store.write_documents(
        [
            Document(content="The transformer architecture relies on self-attention."),
            Document(content="Transformers: robots in disguise, a toy line from 1984."),
            Document(content="Cheese is made from milk."),
            Document(content="Attention is all you need introduced the transformer."),
            Document(content="Paris is the capital of France."),
        ]
    )
    pipeline = Pipeline()
    pipeline.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=4))
    pipeline.add_component("ranker", JinaRanker(api_key=api_key, top_k=2, base_url=emulator.rerank_url))
    pipeline.connect("retriever.documents", "ranker.documents")

    yaml_text = pipeline.dumps()
    assert "ranker.JinaRanker" in yaml_text
    assert emulator.api_key not in yaml_text
    loaded = Pipeline.loads(yaml_text)
    assert loaded.dumps() == yaml_text

    query = "transformer attention robots"
    # the loaded store has the same index name, so it sees the documents written above
    result = loaded.run({"retriever": {"query": query}, "ranker": {"query": query}}, include_outputs_from={"retriever"})
    retrieved = result["retriever"]["documents"]
    ranked = result["ranker"]["documents"]
    assert len(retrieved) >= 3
    assert len(ranked) == 2
    assert {d.id for d in ranked} <= {d.id for d in retrieved}
    assert all("transformer" in d.content.lower() for d in ranked)
    assert ranked[0].score >= ranked[1].score
    assert result["ranker"]["meta"]["model"] == "jina-reranker-v1-base-en"
    [body] = sent(emulator)
    assert body["documents"] == [d.content for d in retrieved]
    assert body["top_n"] == 2
