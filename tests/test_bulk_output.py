"""Building large outputs cheaply without giving up safety (issue 21): vector decoding and its checks,
the garbage-collector pause, and what an output Document shares with its input."""

from __future__ import annotations

import base64
import copy
import gc
import os
import struct
import threading
from collections.abc import Iterator

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, embeddings_answer

from haystack_integrations.common.jina.embeddings import embedded_copy, float32_list, parse_embeddings_response
from haystack_integrations.common.jina.errors import JinaMalformedResponseError
from haystack_integrations.common.jina.gc_pause import gc_paused
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
from haystack_integrations.testing.jina import JinaEmulator

URL = "http://127.0.0.1:1/v1/embeddings"


def b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def answer(*vectors: object) -> dict[str, object]:
    return {"model": "m", "data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]}


@pytest.fixture
def gc_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


# ---------------------------------------------------------------------------------------------- decoding


def test_base64_vectors_decode_to_the_exact_float32_values() -> None:
    values = [0.0, -0.0, 1.5, -2.25, 1e-45, 3.0e38, -3.0e38, 0.1]
    expected = list(struct.unpack("<8f", struct.pack("<8f", *values)))
    assert float32_list(struct.pack("<8f", *values)) == expected
    result = parse_embeddings_response(answer(b64(values), b64(values[::-1])), 2, URL)
    assert result.vectors == [expected, expected[::-1]]
    assert all(type(x) is float for x in result.vectors[0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), -float("nan")])
@pytest.mark.parametrize("position", [0, 1, 2, 3, 1023])
def test_one_non_finite_value_anywhere_in_a_base64_vector_is_malformed(bad: float, position: int) -> None:
    values = [0.01] * 1024
    values[position] = bad
    with pytest.raises(JinaMalformedResponseError, match="NaN, infinite"):
        parse_embeddings_response(answer(b64([0.5] * 1024), b64(values)), 2, URL)


def test_huge_finite_values_pass_the_exact_check() -> None:
    # 2**127 and above share their high byte with NaN and infinities: the cheap test sends them on to the exact one
    values = [2.0**127, -(2.0**127), 3.4e38, 1.0]
    result = parse_embeddings_response(answer(b64(values)), 1, URL)
    assert result.vectors[0] == list(struct.unpack("<4f", struct.pack("<4f", *values)))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("", "empty"), ("AAAA", "whole number of float32"), ("not base64!", "not valid base64"), ("AAAAAA==x", "base64")],
)
def test_broken_base64_vectors_are_malformed(raw: str, problem: str) -> None:
    with pytest.raises(JinaMalformedResponseError, match=problem):
        parse_embeddings_response(answer(raw), 1, URL)


def test_non_finite_base64_vector_from_a_server_is_malformed_end_to_end() -> None:
    def vectors(count: int) -> list[str]:
        return [b64([0.5, 0.5, float("nan") if i == count - 1 else 0.5]) for i in range(count)]

    with HostileServer(embeddings_answer(vectors)) as server:
        embedder = JinaDocumentEmbedder(api_key=Secret.from_token("k"), base_url=server.url, progress_bar=False)
        with pytest.raises(JinaMalformedResponseError, match="NaN"):
            embedder.run([Document(content="a"), Document(content="b")])


# ---------------------------------------------------------------------------------------------- gc pause


@pytest.mark.usefixtures("gc_enabled")
def test_gc_pause_restores_the_collector_even_after_an_error() -> None:
    seen = []

    def paused_then_failing() -> None:
        with gc_paused():
            with gc_paused():  # nested
                seen.append(gc.isenabled())
            seen.append(gc.isenabled())  # the outer pause is still running
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        paused_then_failing()
    assert seen == [False, False]
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_enabled")
def test_gc_pause_leaves_a_collector_the_caller_disabled_disabled() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


@pytest.mark.usefixtures("gc_enabled")
def test_overlapping_pauses_in_threads_enable_the_collector_only_when_the_last_ends() -> None:
    inside, release = threading.Barrier(9), threading.Event()
    seen: list[bool] = []

    def worker(index: int) -> None:
        with gc_paused():
            inside.wait(timeout=30)
            if index == 0:
                return  # the first to leave: the others still hold their pauses
            release.wait(timeout=30)
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=30)
    threads[0].join(timeout=30)
    assert not gc.isenabled(), "seven pauses still running"
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == [False] * 7
    assert gc.isenabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
@pytest.mark.usefixtures("gc_enabled")
def test_a_child_forked_during_a_pause_has_the_collector_on() -> None:
    with gc_paused():
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 only if its collector runs
            os._exit(0 if gc.isenabled() else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.usefixtures("gc_enabled")
def test_embedding_leaves_the_collector_on(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, batch_size=2, progress_bar=False)
    assert len(embedder.run([Document(content=f"d{i}") for i in range(7)])["documents"]) == 7
    assert gc.isenabled()


# ---------------------------------------------------------------------------------------------- what is shared


def test_output_meta_is_a_new_dict_whose_nested_values_are_shared_with_the_input(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    """The documented contract: the input is never changed; nested meta values are shared, not deep-copied."""
    tags = ["a"]
    documents = [Document(content="x y", meta={"tags": tags, "source": {"page": 1}}), Document(content="z")]
    before = copy.deepcopy(documents)
    embedder = JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False)
    out = embedder.run(documents)["documents"]

    assert documents == before, "embedding never changes its inputs"
    assert out[0].meta is not documents[0].meta
    out[0].meta["added"] = 1
    out[0].meta["source"] = "replaced"
    del out[0].meta["tags"]
    assert documents[0].meta == before[0].meta, "top-level changes to an output never reach the input"
    shared = embedder.run(documents)["documents"][0]
    assert shared.meta["tags"] is tags, "nested values are shared with the input (no per-document deep copy)"


def test_embedded_meta_is_a_fresh_deep_copy_per_document() -> None:
    extra = {"embedding_source": {"type": "image"}}
    first = embedded_copy(Document(content="a", meta={"k": 1}), [0.5], extra)
    second = embedded_copy(Document(content="b"), [0.5], extra)
    assert first.meta == {"k": 1, "embedding_source": {"type": "image"}}
    assert first.meta["embedding_source"] is not second.meta["embedding_source"]
    assert first.meta["embedding_source"] is not extra["embedding_source"]
    assert first.embedding == [0.5]
