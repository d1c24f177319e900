"""JinaBatchDocumentEmbedder against the emulator's Batch API: matching, failures, resuming, the job store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from haystack import Document
from haystack.utils import Secret
from page_server import PageServer

from haystack_integrations.common.jina import batch_api
from haystack_integrations.common.jina.batch_api import JinaBatchJobError
from haystack_integrations.common.jina.batch_runner import next_poll_delay
from haystack_integrations.common.jina.batch_store import JinaBatchStoreError
from haystack_integrations.common.jina.errors import JinaError
from haystack_integrations.components.embedders.jina import JinaBatchDocumentEmbedder
from haystack_integrations.testing.jina import JinaEmulator

NANO = "jina-embeddings-v5-text-nano"


@pytest.fixture
def jina(monkeypatch: pytest.MonkeyPatch) -> Iterator[JinaEmulator]:
    """An emulator of its own (batch jobs are its state), with the environment pointing components at it."""
    with JinaEmulator() as emulator:
        for name, value in emulator.environment().items():
            monkeypatch.setenv(name, value)
        yield emulator


def documents(count: int, start: int = 0) -> list[Document]:
    return [Document(content=f"note {i} on bees, honey and hive number {i % 7}") for i in range(start, start + count)]


def embedder(**kwargs: Any) -> JinaBatchDocumentEmbedder:
    settings: dict[str, Any] = {"model": NANO, "dimensions": 16, "poll_interval": 0.01, "progress_bar": False}
    return JinaBatchDocumentEmbedder(**{**settings, **kwargs})


def direct_vectors(jina: JinaEmulator, texts: list[str]) -> list[list[float]]:
    """What /v1/embeddings gives the same texts (the emulator's retrieval vectors are those of retrieval.passage)."""
    body = {"model": NANO, "input": texts, "dimensions": 16, "task": "retrieval.passage"}
    answer = requests.post(
        jina.embeddings_url, json=body, headers={"Authorization": f"Bearer {jina.api_key}"}, timeout=10
    )
    return [item["embedding"] for item in answer.json()["data"]]


def posts(jina: JinaEmulator) -> list[dict[str, Any]]:
    return [r.json for r in jina.requests if r.method == "POST" and r.path == "/v1/batch/embeddings"]


def test_every_document_gets_its_own_vector_from_shuffled_output(jina: JinaEmulator) -> None:
    docs = documents(40)
    result = embedder(task="retrieval").run(docs)
    expected = direct_vectors(jina, [d.content or "" for d in docs])
    assert [d.id for d in result["documents"]] == [d.id for d in docs]
    for document, vector in zip(result["documents"], expected, strict=True):
        assert document.embedding == pytest.approx(vector, abs=1e-6)
    assert all(d.embedding is None for d in docs)  # inputs are not changed
    assert result["meta"]["model"] == NANO
    assert result["meta"]["usage"]["total_tokens"] > 0
    assert len(result["meta"]["batch_ids"]) == 1
    sent = posts(jina)[0]
    assert sent["model"] == NANO and sent["task"] == "retrieval" and sent["dimensions"] == 16
    assert len(sent["input"]) == 40


def test_meta_fields_prefix_and_suffix_are_embedded(jina: JinaEmulator) -> None:
    doc = Document(content="body text", meta={"title": "Bees"})
    embedder(meta_fields_to_embed=["title"], prefix="P: ", suffix=" :S", embedding_separator=" | ").run([doc])
    assert posts(jina)[0]["input"][0]["body"]["input"] == "P: Bees | body text :S"


def test_a_corpus_is_split_into_jobs_of_at_most_the_inline_limit(
    jina: JinaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_api, "MAX_INLINE_INPUTS", 10)
    result = embedder().run(documents(25))
    # the jobs are submitted concurrently: their order of arrival is not the corpus's
    assert sorted((len(body["input"]) for body in posts(jina)), reverse=True) == [10, 10, 5]
    assert len(result["meta"]["batch_ids"]) == 3
    assert all(d.embedding for d in result["documents"])


def test_identical_documents_share_one_line_and_both_come_back(jina: JinaEmulator) -> None:
    doc = Document(content="same")
    result = embedder().run([doc, doc])
    assert len(posts(jina)[0]["input"]) == 1
    assert result["documents"][0].embedding == result["documents"][1].embedding is not None


def test_failed_lines_raise_or_come_back_as_failed_documents(jina: JinaEmulator) -> None:
    jina.batches.fail_lines = 0.2
    docs = documents(50)
    with pytest.raises(JinaError, match="got no embedding") as raised:
        embedder().run(docs)
    assert "Injected failure" in str(raised.value)
    result = embedder(raise_on_failure=False).run(docs)
    failed = {item["id"] for item in result["meta"]["failed_documents"]}
    assert 0 < len(failed) < 50
    assert all((d.embedding is None) == (d.id in failed) for d in result["documents"])
    assert all("Injected failure" in item["error"] for item in result["meta"]["failed_documents"])


@pytest.mark.parametrize("status", ["failed", "expired", "cancelled"])
def test_an_ended_job_names_itself_and_the_next_run_resubmits_only_it(
    jina: JinaEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    monkeypatch.setattr(batch_api, "MAX_INLINE_INPUTS", 10)
    store = tmp_path / "jobs.json"
    docs = documents(20)
    component = embedder(job_store=str(store))
    first = component.submit(docs[:10])["batch_ids"]
    jina.batches.end_next(status)
    component.submit(docs)
    with pytest.raises(JinaBatchJobError, match=f"ended {status}") as raised:
        component.run(docs)
    assert raised.value.batch_id not in first
    assert "Run again with the same job_store" in str(raised.value)
    result = component.run(docs)
    assert all(d.embedding for d in result["documents"])
    assert [len(body["input"]) for body in posts(jina)] == [10, 10, 10]  # only the ended job's 10 again


def test_an_interrupted_run_resumes_its_jobs_and_submits_nothing_twice(jina: JinaEmulator, tmp_path: Path) -> None:
    jina.batches.delay = 0.5
    store = tmp_path / "jobs.json"
    docs = documents(30)
    with pytest.raises(JinaBatchJobError, match="keeps running on Jina's side") as raised:
        embedder(job_store=str(store), max_wait=0.05).run(docs)
    assert str(store) in str(raised.value)
    recorded = json.loads(store.read_text())
    assert len(recorded["jobs"]) == 1 and len(recorded["jobs"][0]["custom_ids"]) == 30
    result = embedder(job_store=str(store)).run(docs)  # a new instance, as after a restart
    assert len(posts(jina)) == 1
    assert all(d.embedding for d in result["documents"])
    assert [d.embedding for d in result["documents"]] == [d.embedding for d in embedder().run(docs)["documents"]]


def test_submit_then_collect_in_another_instance(jina: JinaEmulator, tmp_path: Path) -> None:
    store = str(tmp_path / "jobs.json")
    docs = documents(12)
    submitted = embedder(job_store=store).submit(docs)
    assert len(submitted["submitted"]) == 1 and submitted["batch_ids"] == submitted["submitted"]
    assert embedder(job_store=store).submit(docs)["submitted"] == []  # already there
    result = embedder(job_store=store).collect(docs)
    assert all(d.embedding for d in result["documents"])
    assert len(posts(jina)) == 1


def test_collect_refuses_documents_that_were_never_submitted(jina: JinaEmulator, tmp_path: Path) -> None:
    with pytest.raises(JinaBatchStoreError, match="submit them first"):
        embedder(job_store=str(tmp_path / "jobs.json")).collect(documents(3))
    assert posts(jina) == []


def test_a_store_of_other_documents_or_settings_is_never_reused(jina: JinaEmulator, tmp_path: Path) -> None:
    store = str(tmp_path / "jobs.json")
    embedder(job_store=store).submit(documents(5))
    with pytest.raises(JinaBatchStoreError, match="belongs to other Documents"):
        embedder(job_store=store).run(documents(5, start=100))
    with pytest.raises(JinaBatchStoreError, match="dimensions"):
        embedder(job_store=store, dimensions=32).run(documents(5))
    assert len(posts(jina)) == 1


@pytest.mark.parametrize(
    "content", ["{not json", '{"format": "something else"}', '{"format": "jina-haystack batch jobs 1", "jobs": 3}']
)
def test_a_corrupt_store_is_a_clear_error(jina: JinaEmulator, tmp_path: Path, content: str) -> None:
    store = tmp_path / "jobs.json"
    store.write_text(content)
    with pytest.raises(JinaBatchStoreError, match="is corrupt"):
        embedder(job_store=str(store)).run(documents(2))
    assert posts(jina) == []


def test_a_job_the_server_forgot_is_named(jina: JinaEmulator, tmp_path: Path) -> None:
    store = str(tmp_path / "jobs.json")
    docs = documents(4)
    batch_id = embedder(job_store=store).submit(docs)["batch_ids"][0]
    jina.batches.forget(batch_id)
    with pytest.raises(JinaBatchJobError, match=batch_id) as raised:
        embedder(job_store=store).run(docs)
    assert "404" in str(raised.value)
    assert embedder(job_store=store).run(docs)["documents"][0].embedding  # resubmitted
    assert len(posts(jina)) == 2


def test_network_faults_while_polling_are_retried(jina: JinaEmulator) -> None:
    jina.batches.delay = 0.2
    jina.inject("status", status=503, times=6, path="/v1/batch/batch_")
    jina.inject("drop", times=2, path="/v1/batch/batch_")
    result = embedder(max_retries=0).run(documents(5))
    assert all(d.embedding for d in result["documents"])


def test_signed_download_urls_never_get_the_key(jina: JinaEmulator) -> None:
    jina.batches.redirect_downloads = True
    jina.batches.fail_lines = 0.3
    result = embedder(raise_on_failure=False).run(documents(20))
    signed = [r for r in jina.requests if r.path.startswith("/files/")]
    assert {r.path.split("?")[0].rsplit("/", 1)[1] for r in signed} == {"output.jsonl", "errors.jsonl"}
    assert all(r.header("Authorization") is None for r in signed)
    assert len(result["meta"]["failed_documents"]) + sum(1 for d in result["documents"] if d.embedding) == 20


def test_cancel_on_exit_cancels_what_is_still_running(jina: JinaEmulator, tmp_path: Path) -> None:
    jina.batches.delay = 5.0
    store = tmp_path / "jobs.json"
    with pytest.raises(JinaBatchJobError):
        embedder(job_store=str(store), max_wait=0.05, cancel_on_exit=True).run(documents(3))
    deletes = [r for r in jina.requests if r.method == "DELETE"]
    assert len(deletes) == 1
    job = json.loads(store.read_text())
    assert job["jobs"] == [] and job["ended"][0]["status"] == "cancelled"


def test_jobs_are_not_cancelled_on_exit_by_default(jina: JinaEmulator) -> None:
    jina.batches.delay = 5.0
    with pytest.raises(JinaBatchJobError):
        embedder(max_wait=0.05).run(documents(3))
    assert [r for r in jina.requests if r.method == "DELETE"] == []


def test_run_async(jina: JinaEmulator) -> None:
    result = asyncio.run(embedder(max_concurrency=2).run_async(documents(6)))
    assert all(d.embedding for d in result["documents"])


def test_input_url_built_by_the_helper(jina: JinaEmulator, tmp_path: Path, pages: PageServer) -> None:
    docs = documents(15)
    written = embedder().write_input_file(docs, tmp_path / "in.jsonl")
    assert written["lines"] == 15
    url = pages.add("/in.jsonl", (tmp_path / "in.jsonl").read_bytes(), content_type="application/x-ndjson")
    store = str(tmp_path / "jobs.json")
    embedder(job_store=store).submit(docs, input_url=url)
    result = embedder(job_store=store).run(docs)
    assert posts(jina)[0]["input_url"] == url and "input" not in posts(jina)[0]
    assert all(d.embedding for d in result["documents"])


def test_the_input_file_helper_refuses_documents_without_text(tmp_path: Path) -> None:
    with pytest.raises(JinaError, match="no text to embed"):
        embedder().write_input_file([Document(content="")], tmp_path / "in.jsonl")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "jina-embeddings-v3"}, "jina-embeddings-v5-text-nano or jina-embeddings-v5-text-small"),
        ({"task": "retrieval.passage"}, "retrieval, text-matching, clustering, classification"),
        ({"dimensions": 769}, "1 to 768"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"max_wait": -1}, "max_wait"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        embedder(**kwargs)


def test_empty_input_sends_nothing(jina: JinaEmulator) -> None:
    result = embedder().run([])
    assert result["documents"] == []
    assert jina.requests == []


def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", "secret-value-123456")
    component = embedder(job_store="jobs.json", cancel_on_exit=True)
    data = component.to_dict()
    assert "secret-value" not in json.dumps(data)
    assert data["init_parameters"]["job_store"] == "jobs.json"
    again = JinaBatchDocumentEmbedder.from_dict(data)
    assert again.to_dict() == data
    assert again.cancel_on_exit and again.poll_interval == 0.01
    with pytest.raises(ValueError, match="token"):
        JinaBatchDocumentEmbedder(api_key=Secret.from_token("x"), model=NANO).to_dict()


def test_custom_ids_are_stable_for_the_same_document_and_text() -> None:
    doc = Document(content="stable")
    assert batch_api.custom_id(doc.id, "stable") == batch_api.custom_id(Document(content="stable").id, "stable")
    assert batch_api.custom_id(doc.id, "stable") != batch_api.custom_id(doc.id, "other text")


def test_poll_delays_stay_within_jinas_advice_by_default() -> None:
    delays = [next_poll_delay(15.0, attempt, draw) for attempt in range(50) for draw in (0.0, 0.5, 0.999)]
    assert min(delays) >= 10 and max(delays) <= 30
    assert next_poll_delay(15.0, 0, 0.5) < next_poll_delay(15.0, 10, 0.5)  # grows
    assert next_poll_delay(0.01, 0, 0.5) == pytest.approx(0.01)


def _line(custom_id: str, vector: list[float]) -> bytes:
    body = {"data": [{"embedding": vector, "index": 0}], "model": NANO, "usage": {"total_tokens": 2}}
    return json.dumps({"custom_id": custom_id, "response": {"status_code": 200, "body": body}}).encode()


def test_results_are_matched_by_custom_id_never_by_position() -> None:
    output = b"\n".join(
        [
            _line("b", [0.0, 1.0]),
            json.dumps({"custom_id": "a", "embedding": [1.0, 0.0]}).encode(),  # the flat shape
            _line("stranger", [0.5, 0.5]),
            _line("c", [0.1, 0.2]),
            _line("c", [0.3, 0.4]),
            _line("e", [float("nan"), 1.0]).replace(b"NaN", b"NaN"),
            json.dumps({"custom_id": "f", "vector": [1, 2]}).encode(),
            _line("g", [1.0, 2.0, 3.0]),
        ]
    )
    errors = json.dumps({"custom_id": "h", "error": {"code": "X", "message": "too long"}}).encode()
    wanted = ["a", "b", "c", "d", "e", "f", "g", "h"]
    results = batch_api.read_results("batch_1", output, errors, wanted, 2, "http://x/v1/batch/batch_1/output")
    assert results.vectors == {"a": [1.0, 0.0], "b": [0.0, 1.0]}
    assert "more than one line" in results.errors["c"]
    assert "no output or error line" in results.errors["d"]
    assert "NaN" in results.errors["e"]
    assert "[custom_id, vector]" in results.errors["f"]
    assert "3 values where 2" in results.errors["g"]
    assert "too long" in results.errors["h"]
    assert any("stranger" in problem for problem in results.problems)
    assert set(results.errors) | set(results.vectors) == set(wanted)


def test_lines_of_an_unknown_shape_are_reported_with_their_keys() -> None:
    output = json.dumps({"id": "a", "result": [1.0, 0.0]}).encode()
    results = batch_api.read_results("batch_2", output, b"", ["a"], 2, "http://x/v1/batch/batch_2/output")
    assert results.vectors == {}
    assert "[id, result]" in results.problems[0]
    assert "[id, result]" in results.errors["a"]


def test_a_cancelled_run_async_cancels_its_jobs_with_cancel_on_exit(jina: JinaEmulator, tmp_path: Path) -> None:
    jina.batches.delay = 30.0
    store = tmp_path / "jobs.json"
    component = embedder(job_store=str(store), cancel_on_exit=True)

    async def interrupted() -> None:
        task = asyncio.ensure_future(component.run_async(documents(4)))
        while not store.exists():  # submitted and recorded: now polling
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    # the clean-up runs on after the cancelled call has returned: wait until the store records it
    deadline = time.monotonic() + 10
    while '"cancelled"' not in store.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len([r for r in jina.requests if r.method == "DELETE"]) == 1
    assert [job.ended for job in jina.batches.jobs.values()] == ["cancelled"]
    assert json.loads(store.read_text())["jobs"] == []


def test_a_submission_that_may_have_been_accepted_is_not_sent_again(jina: JinaEmulator) -> None:
    jina.inject("status", status=503, path="/v1/batch/embeddings")  # the server may have made the job
    with pytest.raises(JinaError, match="503"):
        embedder(max_retries=3).run(documents(3))
    assert len(posts(jina)) == 1
    jina.inject("status", status=429, retry_after=0.01, path="/v1/batch/embeddings")  # a refusal: retried
    assert embedder(max_retries=3).run(documents(3))["documents"][0].embedding
    assert len(posts(jina)) == 3
