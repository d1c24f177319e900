"""The conformance check itself: it really catches bodies that break Jina's spec (see conformance.py)."""

from __future__ import annotations

from pathlib import Path

import jina_spec
import pytest
import requests
from conformance import Recorder, problems_of
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.components.embedders.jina import (
    JinaSparseDocumentEmbedder,
    JinaSparseTextEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.testing.jina import JinaEmulator


@pytest.fixture(autouse=True)
def _needs_spec() -> None:
    if jina_spec.load_spec() is None:
        pytest.skip(jina_spec.MISSING_REASON)


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v2-base-en", "input": ["x"], "late_chunking": true}',
            "field 'late_chunking' is not in the model's schema",
        ),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v4", "input": ["x"], "normalized": true}',
            "field 'normalized' is not in the model's schema",
        ),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v3", "input": ["x"], "task": "code.query"}',
            "task: 'code.query' is not valid",
        ),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v3", "input": ["x"], "dimensions": 0}',
            "dimensions: 0 is not valid",
        ),
        ("/v1/embeddings", b'{"model": "jina-embeddings-v3"}', "'input' is a required property"),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v9", "input": ["x"]}',
            "not in the spec's discriminator mapping",
        ),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-v3", "query": "q", "documents": ["d"], "max_doc_length": 9000}',
            "max_doc_length: 9000 is greater than the maximum",
        ),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-m0", "query": {"text": "q"}, "documents": ["d"]}',
            "query: {'text': 'q'} is not valid under any of the given schemas",  # 2026.06.29: a string or an ImageDoc
        ),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-v2-base-multilingual", "query": "q", "documents": [{"image": "QUJD"}]}',
            "documents/0: {'image': 'QUJD'} is not valid",
        ),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-m0", "query": "q", "documents": [{"image": 5}]}',
            "documents/0: {'image': 5} is not valid",
        ),
        ("/v1/rerank", b"[1]", "not a JSON object"),
        (
            "/v1/classify",
            b'{"model": "jina-embeddings-v3", "input": [{"image": "QUJD"}], "labels": ["a", "b"]}',
            "is not valid under any of the given schemas",
        ),
        (
            "/v1/classify",
            b'{"model": "jina-embeddings-v3", "input": ["x"], "labels": ["a"], "classifier_id": "c"}',
            "field 'labels' is not in the model's schema",
        ),
        ("/v1/classify", b'{"model": "jina-clip-v2", "input": ["x"]}', "'labels' is a required property"),
        (
            "/v1/train",
            b'{"model": "jina-embeddings-v3", "input": [{"text": "x", "label": "a"}], "access": "private"}',
            "is too short",
        ),
        (
            "/v1/train",
            b'{"model": "jina-code-embeddings-0.5b", "input": [{"text": "x", "label": "a"}, {"text": "y", "label": "b"}]}',  # noqa: E501
            "not in the spec's discriminator mapping",
        ),
        (
            "/v1/train",
            b'{"classifier_id": "c", "input": [{"text": "x"}]}',
            "is not valid under any of the given schemas",
        ),
        (
            "/v1/embeddings",
            b'{"model": "elser-v2", "input": ["x"], "truncate": true}',
            "field 'truncate' is not in the model's schema",
        ),
        ("/v1/embeddings", b'{"model": "elser-v2", "input": ["x"], "task": "text-matching"}', "task: 'text-matching'"),
        # 2026.06.29: "PDFs must be sent as single inputs, not in a list", nor inside a group
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v5-omni-small", "input": [{"pdf": "QUJD"}]}',
            "is not valid under any of the given schemas",
        ),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v5-omni-small", "input": [{"content": [{"text": "a"}, {"pdf": "QUJD"}]}]}',
            "is not valid under any of the given schemas",
        ),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v5-omni-nano", "input": [{"content": []}]}',
            "is not valid under any of the given schemas",
        ),
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v5-omni-nano", "input": {"content": [{"text": "a"}]}}',
            "is not valid under any of the given schemas",
        ),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-v3.5", "query": {"image": "QUJD"}, "documents": ["d"]}',
            "(RerankerV3Request): query: {'image': 'QUJD'} is not of type 'string'",
        ),
    ],
)
def test_non_conforming_bodies_are_caught(path: str, body: bytes, problem: str) -> None:
    problems = problems_of(path, body)
    assert any(problem in found for found in problems), problems


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v3", "input": ["x"], "task": "retrieval.query", "late_chunking": true}',
        ),
        ("/v1/embeddings", b'{"model": "jina-clip-v2", "input": [{"image": "QUJD"}, {"text": "a"}], "dimensions": 64}'),
        ("/v1/embeddings", b'{"model": "jina-colbert-v2", "input": "x", "input_type": "query", "dimensions": 96}'),
        ("/v1/embeddings", b'{"model": "elser-v2", "input": ["x", {"text": "y"}], "task": "retrieval.passage"}'),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-v3", "query": "q", "documents": [{"text": "d"}], "max_doc_length": 8}',
        ),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-m0", "query": "q", "documents": ["d", {"image": "QUJD"}, {"text": "e"}, '
            b'{"image": "https://example.com/a.png"}], "top_n": 2, "return_documents": false}',
        ),
        ("/v1/classify", b'{"model": "jina-clip-v2", "input": ["x", {"image": "QUJD"}], "labels": {"g": ["a", "b"]}}'),
        ("/v1/classify", b'{"classifier_id": "c", "input": ["x", {"text": "y"}]}'),
        (
            "/v1/train",
            b'{"model": "jina-embeddings-v4", "access": "private", "num_iters": 3, '
            b'"input": [{"text": "x", "label": "a"}, {"image": "QUJD", "label": "b"}]}',
        ),
        ("/v1/train", b'{"classifier_id": "c", "input": [{"text": "x", "label": "a"}]}'),
        # 2026.06.29: every request kind of the omni models and the visual query
        (
            "/v1/embeddings",
            b'{"model": "jina-embeddings-v5-omni-small", "input": ["t", {"text": "u"}, {"image": "QUJD"}, '
            b'{"audio": "QUJD"}, {"video": "https://example.com/v.mp4"}, '
            b'{"content": [{"text": "a"}, {"image": "QUJD"}, {"audio": "QUJD"}, {"video": "QUJD"}]}], '
            b'"task": "retrieval.passage", "dimensions": 768, "embedding_type": "base64", "normalized": true, '
            b'"truncate": true}',
        ),
        ("/v1/embeddings", b'{"model": "jina-embeddings-v5-omni-nano", "input": {"pdf": "QUJD"}}'),
        ("/v1/embeddings", b'{"model": "jina-embeddings-v5-omni-nano", "input": {"audio": "QUJD"}}'),
        (
            "/v1/rerank",
            b'{"model": "jina-reranker-m0", "query": {"image": "QUJD"}, "documents": ["d", {"image": "QUJD"}]}',
        ),
        ("/v1/rerank", b'{"model": "jina-reranker-v3.5", "query": "q", "documents": ["d"], "max_doc_length": 512}'),
    ],
)
def test_conforming_bodies_pass(path: str, body: bytes) -> None:
    assert problems_of(path, body) == []


def test_a_test_that_sends_a_non_conforming_body_fails(
    emulator: JinaEmulator, api_key: Secret, spec_conformance: Recorder
) -> None:
    """The per-test check fails the test; here it is run early, then the recorded bodies are forgotten."""
    JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url).run("fine")
    spec_conformance.assert_conforming()  # a conforming request passes
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {"model": "jina-embeddings-v2-base-en", "input": ["x"], "late_chunking": False}
    requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=10)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)1 request.*late_chunking"):
        spec_conformance.assert_conforming()
    spec_conformance.clear()


def test_sparse_embedder_requests_are_checked_against_the_elser_schema(
    emulator: JinaEmulator, api_key: Secret, spec_conformance: Recorder
) -> None:
    JinaSparseTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url).run("heart")
    JinaSparseDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False).run(
        [Document(content="doctor")]
    )
    assert [r.json["model"] for r in spec_conformance.requests] == ["elser-v2", "elser-v2"]
    spec_conformance.assert_conforming()
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {"model": "elser-v2", "input": ["x"], "dimensions": 8}  # ELSERV2Request has no dimensions
    requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=10)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)1 request.*ELSERV2Request.*dimensions"):
        spec_conformance.assert_conforming()
    spec_conformance.clear()


def test_emulators_started_by_a_test_report_too(spec_conformance: Recorder) -> None:
    with JinaEmulator(api_key=None) as own:
        requests.post(own.rerank_url, json={"model": "jina-reranker-v3", "query": 1, "documents": ["d"]}, timeout=10)
    assert any("query: 1 is not of type 'string'" in problem for problem in spec_conformance.problems())
    spec_conformance.clear()


def test_without_the_spec_the_check_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(jina_spec, "SPEC_PATH", tmp_path / "absent.json")
    jina_spec.load_spec.cache_clear()
    try:
        assert jina_spec.load_spec() is None
    finally:
        monkeypatch.undo()
        jina_spec.load_spec.cache_clear()
    assert jina_spec.load_spec() is not None
