from __future__ import annotations

import asyncio
import copy
import random

import pytest
from haystack import Document, Pipeline
from haystack.components.preprocessors import DocumentSplitter
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import (
    JinaBadRequestError,
    JinaInputError,
    JinaMalformedResponseError,
)
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.testing.jina import JinaEmulator, RecordedRequest

TYPE = "haystack_integrations.components.embedders.jina.document_embedder.JinaDocumentEmbedder"


def make(emulator: JinaEmulator, api_key: Secret, **kwargs: object) -> JinaDocumentEmbedder:
    kwargs.setdefault("progress_bar", False)
    return JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, **kwargs)  # type: ignore[arg-type]


def docs(n: int, prefix: str = "document") -> list[Document]:
    return [Document(content=f"{prefix} number {i} about topic {i % 7}") for i in range(n)]


def inputs_of(request: RecordedRequest) -> list[str]:
    return request.json["input"]


# ------------------------------------------------------------------ serialization


def test_to_dict_defaults(api_key: Secret) -> None:
    assert JinaDocumentEmbedder(api_key=api_key).to_dict() == {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "model": "jina-embeddings-v3",
            "base_url": "https://api.jina.ai/v1/embeddings",
            "prefix": "",
            "suffix": "",
            "batch_size": 32,
            "progress_bar": True,
            "meta_fields_to_embed": [],
            "embedding_separator": "\n",
        },
    }


def test_positional_parameters_keep_published_order(api_key: Secret) -> None:
    embedder = JinaDocumentEmbedder(
        api_key, "jina-embeddings-v4", "P", "S", 7, False, ["title"], " | ", "retrieval.passage", 128, True
    )
    params = embedder.to_dict()["init_parameters"]
    assert params["model"] == "jina-embeddings-v4"
    assert (params["prefix"], params["suffix"], params["batch_size"], params["progress_bar"]) == ("P", "S", 7, False)
    assert (params["meta_fields_to_embed"], params["embedding_separator"]) == (["title"], " | ")
    assert (params["task"], params["dimensions"], params["late_chunking"]) == ("retrieval.passage", 128, True)
    assert JinaDocumentEmbedder.from_dict(embedder.to_dict()).to_dict() == embedder.to_dict()


def test_yaml_round_trip_in_pipeline_runs(emulator: JinaEmulator, api_key: Secret) -> None:
    pipeline = Pipeline()
    pipeline.add_component("embedder", make(emulator, api_key, batch_size=3, task="retrieval.passage"))
    loaded = Pipeline.loads(pipeline.dumps())
    result = loaded.run({"embedder": {"documents": docs(5)}})
    assert [len(d.embedding or []) for d in result["embedder"]["documents"]] == [1024] * 5
    assert sorted(len(inputs_of(r)) for r in emulator.requests) == [2, 3]


# ------------------------------------------------------------------ wire


def test_text_is_meta_then_content_with_prefix_and_suffix(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = make(emulator, api_key, prefix="passage: ", suffix=" <end>", meta_fields_to_embed=["title", "year"])
    embedder.embedding_separator = " | "
    documents = [
        Document(content="body one", meta={"title": "T1", "year": 2024}),
        Document(content="body two", meta={"title": None}),
    ]
    embedder.run(documents)
    assert inputs_of(emulator.requests[0]) == ["passage: T1 | 2024 | body one <end>", "passage: body two <end>"]


def test_options_reach_the_wire(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = make(emulator, api_key, task="retrieval.passage", dimensions=32, normalized=False, truncate=True)
    result = embedder.run(docs(2))
    body = emulator.requests[0].json
    assert {k: body[k] for k in ("task", "dimensions", "normalized", "truncate", "embedding_type")} == {
        "task": "retrieval.passage",
        "dimensions": 32,
        "normalized": False,
        "truncate": True,
        "embedding_type": "base64",
    }
    assert [len(d.embedding or []) for d in result["documents"]] == [32, 32]


def test_binary_embeddings(emulator: JinaEmulator, api_key: Secret) -> None:
    result = make(emulator, api_key, embedding_type="ubinary").run(docs(3))
    for document in result["documents"]:
        assert len(document.embedding or []) == 128
        assert all(isinstance(x, int) for x in document.embedding or [])


def test_embeddings_equal_the_text_embedder_ones_and_usage_is_summed(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = docs(10)
    result = make(emulator, api_key, batch_size=4).run(documents)
    text_embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    for document in result["documents"]:
        assert document.embedding == text_embedder.run(document.content or "")["embedding"]
    assert sorted(len(inputs_of(r)) for r in emulator.requests[:3]) == [2, 4, 4]
    # "document number 3 about topic 3": 6 tokens for the emulator, 10 documents over 3 requests
    assert result["meta"]["usage"] == {"total_tokens": 60, "prompt_tokens": 60}


def test_order_is_kept_when_batches_finish_out_of_order(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = docs(60)
    rng = random.Random(7)
    for i in rng.sample(range(20), 8):  # slow down some batches so later ones finish first
        marker = f"document number {i * 3} "
        emulator.inject("latency", delay=rng.uniform(0.05, 0.2), when=lambda r, m=marker: m in r.body.decode())
    result = make(emulator, api_key, batch_size=3, max_concurrency=6).run(documents)
    text_embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    assert [d.id for d in result["documents"]] == [d.id for d in documents]
    for document in result["documents"][::7]:
        assert document.embedding == text_embedder.run(document.content or "")["embedding"]


def test_inputs_are_not_mutated_and_outputs_are_copies(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content="x y", meta={"k": [1]}), Document(content="z", meta={})]
    before = copy.deepcopy(documents)
    result = make(emulator, api_key).run(documents)
    assert documents == before
    assert all(d.embedding is None for d in documents)
    assert result["documents"][0] is not documents[0]
    result["documents"][1].meta["new"] = 1
    assert "new" not in documents[1].meta
    assert [d.id for d in result["documents"]] == [d.id for d in documents]


def test_empty_list_sends_nothing(emulator: JinaEmulator, api_key: Secret) -> None:
    result = make(emulator, api_key).run([])
    assert result["documents"] == []
    assert result["meta"]["model"] == "jina-embeddings-v3"
    assert emulator.requests == []


@pytest.mark.parametrize("bad", ["a string", [1, 2], Document(content="x"), ["text"]])
def test_wrong_input_type_points_to_text_embedder(emulator: JinaEmulator, api_key: Secret, bad: object) -> None:
    with pytest.raises(TypeError, match="JinaTextEmbedder"):
        make(emulator, api_key).run(bad)  # type: ignore[arg-type]


def test_wrong_item_is_named_by_its_position(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(TypeError, match=r"item 1 is a str"):
        make(emulator, api_key).run([Document(content="ok"), "not a document"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"got str"):
        make(emulator, api_key).run("a string")  # type: ignore[arg-type]
    assert emulator.requests == []


def test_bad_batch_size_is_rejected(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        JinaDocumentEmbedder(api_key=api_key, batch_size=0)


# ------------------------------------------------------------------ content None / failures


def test_content_none_embeds_meta_text(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content=None, meta={"title": "only a title"})]
    result = make(emulator, api_key, meta_fields_to_embed=["title"]).run(documents)
    assert inputs_of(emulator.requests[0]) == ["only a title\n"]
    assert result["documents"][0].embedding is not None


def test_nothing_to_embed_raises_naming_the_document(emulator: JinaEmulator, api_key: Secret) -> None:
    empty = Document(content=None, id="doc-without-text")
    with pytest.raises(JinaInputError, match="doc-without-text"):
        make(emulator, api_key).run([Document(content="fine"), empty])
    assert emulator.requests == []


def test_nothing_to_embed_is_reported_without_raise(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content="fine"), Document(content="   ", id="blank"), Document(content="also fine")]
    result = make(emulator, api_key, raise_on_failure=False).run(documents)
    assert [d.embedding is not None for d in result["documents"]] == [True, False, True]
    assert [f["id"] for f in result["meta"]["failed_documents"]] == ["blank"]
    assert "no text to embed" in result["meta"]["failed_documents"][0]["error"]
    assert inputs_of(emulator.requests[0]) == ["fine", "also fine"]


def test_a_documents_own_input_error_survives_its_batch_failing(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=422, detail="poison input", when=lambda r: b"poison" in r.body)
    documents = [Document(content="poison", id="p"), Document(content=" ", id="blank"), Document(content="x")]
    result = make(emulator, api_key, batch_size=3, raise_on_failure=False).run(documents)
    errors = {f["id"]: f["error"] for f in result["meta"]["failed_documents"]}
    assert set(errors) == {d.id for d in documents}
    assert "no text to embed" in errors["blank"] and "poison" not in errors["blank"]
    assert "poison input" in errors["p"]
    assert inputs_of(emulator.requests[0]) == ["poison", "x"]


def test_failed_batch_raises_by_default(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=422, detail="poison input", when=lambda r: b"poison" in r.body)
    documents = [*docs(4), Document(content="poison"), *docs(4, "later")]
    with pytest.raises(JinaBadRequestError, match="poison input"):
        make(emulator, api_key, batch_size=3).run(documents)


def test_failed_batch_is_reported_and_the_rest_embedded(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=422, detail="poison input", when=lambda r: b"poison" in r.body)
    documents = [*docs(4), Document(content="poison", id="p"), *docs(4, "later")]
    result = make(emulator, api_key, batch_size=3, raise_on_failure=False).run(documents)
    embedded = [d.embedding is not None for d in result["documents"]]
    assert embedded == [True, True, True, False, False, False, True, True, True]
    failed = result["meta"]["failed_documents"]
    assert [f["id"] for f in failed] == [d.id for d in documents[3:6]]
    assert all("poison input" in f["error"] and "422" in f["error"] for f in failed)
    assert len(result["documents"]) == len(documents)


def test_wrong_vector_count_is_malformed_not_misaligned(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("wrong_count")
    with pytest.raises(JinaMalformedResponseError, match="2 vectors for 3 inputs"):
        make(emulator, api_key).run(docs(3))


def test_transient_errors_are_retried_transparently(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=503, times=2)
    emulator.inject("status", status=429, retry_after=0.05)
    emulator.inject("drop")
    result = make(emulator, api_key, batch_size=2, max_retries=5).run(docs(6))
    assert all(d.embedding for d in result["documents"])
    assert result["meta"].keys() == {"model", "usage"}  # as the published package's: failures raise


def test_key_not_in_failure_texts(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=500, times=5, detail="boom")
    result = make(emulator, api_key, raise_on_failure=False).run(docs(2))
    assert emulator.api_key not in str(result["meta"])


# ------------------------------------------------------------------ concurrency


def test_batches_run_concurrently_within_the_limit(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.1
    make(emulator, api_key, batch_size=2, max_concurrency=4).run(docs(16))
    assert emulator.max_in_flight == 4  # 8 batches, 4 at a time


def test_one_session_reused_across_runs(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = make(emulator, api_key, max_concurrency=1)
    for _ in range(3):
        embedder.run(docs(4))
    assert emulator.connections == 1


def test_progress_bar_counts_documents(
    emulator: JinaEmulator, api_key: Secret, capsys: pytest.CaptureFixture[str]
) -> None:
    make(emulator, api_key, batch_size=4, progress_bar=True).run(docs(10))
    err = capsys.readouterr().err
    assert "Calculating embeddings" in err and "10/10" in err


async def test_run_async(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.2
    embedder = make(emulator, api_key, batch_size=2)
    first, second = await asyncio.gather(embedder.run_async(docs(4)), embedder.run_async(docs(4, "other")))
    assert emulator.max_in_flight == 4  # both calls' two batches at once
    assert all(d.embedding for d in first["documents"] + second["documents"])


# ------------------------------------------------------------------ late chunking


def split_sources(sources: dict[str, str], split_length: int = 5) -> list[Document]:
    splitter = DocumentSplitter(split_by="word", split_length=split_length, split_overlap=0)
    if hasattr(splitter, "warm_up"):
        splitter.warm_up()
    return splitter.run([Document(content=text, id=name) for name, text in sources.items()])["documents"]


def test_late_chunking_requests_hold_one_source_in_split_order(emulator: JinaEmulator, api_key: Secret) -> None:
    sources = {
        "alpha": " ".join(f"alpha{i}" for i in range(23)),
        "beta": " ".join(f"beta{i}" for i in range(12)),
        "gamma": " ".join(f"gamma{i}" for i in range(7)),
    }
    chunks = split_sources(sources)
    shuffled = chunks[:]
    random.Random(3).shuffle(shuffled)
    shuffled.append(Document(content="a loose note without source"))
    result = make(emulator, api_key, late_chunking=True, batch_size=2).run(shuffled)

    assert [d.id for d in result["documents"]] == [d.id for d in shuffled]
    assert all(d.embedding for d in result["documents"])
    by_request = [inputs_of(r) for r in emulator.requests]
    assert all(r.json["late_chunking"] is True for r in emulator.requests)
    expected = {name: [c.content for c in chunks if c.meta["source_id"] == name] for name in sources}
    for inputs in by_request:
        if inputs == ["a loose note without source"]:
            continue
        source = inputs[0].split()[0].rstrip("0123456789")
        assert inputs == expected[source], "one source per request, in split_id order"
    assert len(by_request) == 4


def test_late_chunking_gives_context_dependent_vectors(emulator: JinaEmulator, api_key: Secret) -> None:
    chunk = "the same sentence"
    a = split_sources({"a": f"rockets and orbits {chunk}"}, split_length=3)
    b = split_sources({"b": f"pizza and cheese {chunk}"}, split_length=3)
    result = make(emulator, api_key, late_chunking=True).run(a + b)
    vectors = [d.embedding for d in result["documents"] if d.content and d.content.strip() == chunk]
    assert len(vectors) == 2 and vectors[0] != vectors[1]


def test_late_chunking_splits_a_long_source_within_the_context(emulator: JinaEmulator, api_key: Secret) -> None:
    long_text = " ".join(f"w{i}" for i in range(30000))  # far over 8192 tokens
    chunks = split_sources({"long": long_text}, split_length=1000)
    result = make(emulator, api_key, late_chunking=True, max_concurrency=1).run(chunks)
    assert all(d.embedding for d in result["documents"])  # the emulator would 422 an over-long request
    assert len(emulator.requests) > 1
    sent = [text for r in emulator.requests for text in inputs_of(r)]
    assert sent == [c.content for c in chunks]  # still in order, nothing lost


def test_without_late_chunking_sources_are_batched_as_given(emulator: JinaEmulator, api_key: Secret) -> None:
    chunks = split_sources({"a": "one two three four five six", "b": "seven eight nine ten"}, split_length=2)
    make(emulator, api_key, batch_size=4).run(chunks)
    assert sorted(len(inputs_of(r)) for r in emulator.requests) == [1, 4]
