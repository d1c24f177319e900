"""Data is never corrupt or stale (issue 11, items 5-7)."""

from __future__ import annotations

import gzip
import os
import types
from pathlib import Path
from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, answer, embeddings_answer, head
from PIL import Image

from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import (
    JinaBadRequestError,
    JinaInputError,
    JinaMalformedResponseError,
)
from haystack_integrations.common.jina.images import MAX_IMAGE_FILE_BYTES, ImageSource, image_base64
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import JinaEmulator

KEY = Secret.from_token("k")


def text_embedder(url: str, **kwargs: Any) -> JinaTextEmbedder:
    return JinaTextEmbedder(api_key=KEY, base_url=url, max_retries=0, **kwargs)


@pytest.mark.parametrize(
    ("vectors", "problem"),
    [
        (lambda n: [[0.1, float("nan"), 0.3]] * n, "NaN"),
        (lambda n: [[0.1, float("inf"), 0.3]] * n, "NaN, infinite"),
        (lambda n: [[]] * n, "empty"),
        (lambda n: [""] * n, "empty"),  # base64 of nothing
    ],
)
def test_non_finite_or_empty_vectors_are_malformed(vectors: Any, problem: str) -> None:
    with HostileServer(embeddings_answer(vectors)) as server, pytest.raises(JinaMalformedResponseError, match=problem):
        text_embedder(server.url).run("hello")


def test_emulator_nan_fault_is_malformed(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("nan")
    with pytest.raises(JinaMalformedResponseError, match="NaN"):
        JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, max_retries=0).run("hello")


def test_vectors_of_different_lengths_in_one_answer_are_malformed() -> None:
    def mixed(count: int) -> list[list[float]]:
        return [[0.5] * (3 + i % 2) for i in range(count)]

    with HostileServer(embeddings_answer(mixed)) as server:
        embedder = JinaDocumentEmbedder(api_key=KEY, base_url=server.url, max_retries=0, progress_bar=False)
        with pytest.raises(JinaMalformedResponseError, match="different lengths"):
            embedder.run([Document(content="a"), Document(content="b")])


def test_length_other_than_the_requested_dimensions_is_malformed() -> None:
    with HostileServer(embeddings_answer(lambda n: [[0.5] * 3] * n)) as server:
        with pytest.raises(JinaMalformedResponseError, match="3 values where 4 were asked for"):
            text_embedder(server.url, dimensions=4).run("hello")
        assert text_embedder(server.url, dimensions=3).run("hello")["embedding"] == [0.5] * 3


@pytest.mark.parametrize("embedding_type", ["binary", "ubinary"])
def test_binary_types_pack_eight_dimensions_per_value(
    emulator: JinaEmulator, api_key: Secret, embedding_type: str
) -> None:
    embedder = JinaTextEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, dimensions=100, embedding_type=embedding_type
    )
    assert len(embedder.run("hello")["embedding"]) == 13  # ceil(100 / 8): accepted, not called malformed


def test_bad_usage_values_are_ignored_and_the_vectors_kept() -> None:
    usage = {"total_tokens": "many", "prompt_tokens": float("nan"), "other": [1], "images": 2}
    with HostileServer(embeddings_answer(lambda n: [[0.5, 0.5]] * n, usage=usage)) as server:
        result = text_embedder(server.url).run("hello")
    assert result["embedding"] == [0.5, 0.5]
    assert result["meta"]["usage"] == {"images": 2}


def test_deeply_nested_json_is_malformed_not_recursion_error() -> None:
    nested = "[" * 200_000 + "]" * 200_000
    with HostileServer(answer(nested)) as server, pytest.raises(JinaMalformedResponseError, match="nested"):
        text_embedder(server.url).run("hello")


def test_deeply_nested_json_in_an_error_answer_still_maps_the_status() -> None:
    nested = "[" * 200_000 + "]" * 200_000
    with HostileServer(answer(nested, status=400)) as server, pytest.raises(JinaBadRequestError, match="400"):
        text_embedder(server.url).run("hello")


def test_ok_answer_with_only_detail_raises_with_that_detail() -> None:
    with HostileServer(answer({"detail": "your balance is gone"})) as server:
        with pytest.raises(JinaMalformedResponseError, match="your balance is gone") as info:
            text_embedder(server.url).run("hello")
        assert info.value.detail == "your balance is gone"
        ranker = JinaRanker(api_key=KEY, base_url=server.url, max_retries=0)
        with pytest.raises(JinaMalformedResponseError, match="your balance is gone"):
            ranker.run(query="q", documents=[Document(content="d")])


def test_a_decompressed_answer_over_the_cap_is_refused() -> None:
    inflated = b'{"data": [], "pad": "' + b" " * (8 * 1024 * 1024) + b'"}'
    bomb = gzip.compress(inflated)  # a few kB on the wire
    with HostileServer(answer(bomb, extra="Content-Encoding: gzip\r\n")) as server:
        client = JinaClient(KEY, max_retries=0)
        client.max_response_bytes = 1024 * 1024
        with pytest.raises(JinaMalformedResponseError, match="over 1 MB"):
            client.post_json(server.url, {"input": ["x"]})
        client.max_response_bytes = 16 * 1024 * 1024
        assert client.post_json(server.url, {"input": ["x"]})["data"] == []


def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    def huge(conn: Any, _request: bytes) -> None:
        conn.sendall(head(200, 10**12))  # and never a byte of body

    with HostileServer(huge) as server:
        client = JinaClient(KEY, max_retries=0, timeout=30)
        with pytest.raises(JinaMalformedResponseError, match="over 256 MB"):
            client.post_json(server.url, {"input": ["x"]})


def test_failed_document_loses_its_old_embedding(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=400, detail="no", when=lambda r: "bad" in str(r.json))
    documents = [
        Document(content="good", embedding=[9.0, 9.0]),
        Document(content="bad", embedding=[9.0, 9.0]),
    ]
    embedder = JinaDocumentEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, batch_size=1, raise_on_failure=False, progress_bar=False
    )
    result = embedder.run(documents)
    good, bad = result["documents"]
    assert good.embedding is not None and len(good.embedding) == 1024
    assert bad.embedding is None  # a DocumentWriter must not store the stale vector
    assert [f["id"] for f in result["meta"]["failed_documents"]] == [bad.id]
    assert documents[1].embedding == [9.0, 9.0]  # the input is untouched


# ---------------------------------------------------------------- per-document problems


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "ok.png"
    Image.new("RGB", (8, 8), "red").save(path)
    return path


@pytest.mark.parametrize(
    ("bad_path", "problem"),
    [("a\x00b.png", "NUL byte"), ("x" * 5000 + ".png", "cannot access the file")],
)
def test_unusable_image_paths_fail_only_their_document(
    emulator: JinaEmulator, api_key: Secret, image_file: Path, bad_path: str, problem: str
) -> None:
    documents = [
        Document(content="ok", meta={"file_path": str(image_file)}),
        Document(content="bad", meta={"file_path": bad_path}),
    ]
    embedder = JinaDocumentImageEmbedder(api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False)
    with pytest.raises(JinaInputError, match=problem) as info:
        embedder.run(documents)
    assert documents[1].id in str(info.value) and len(str(info.value)) < 600

    embedder.raise_on_failure = False
    result = embedder.run(documents)
    assert result["documents"][0].embedding is not None
    assert result["documents"][1].embedding is None
    assert [f["id"] for f in result["meta"]["failed_documents"]] == [documents[1].id]


def test_image_files_over_the_size_limit_are_refused_unread(
    emulator: JinaEmulator, api_key: Secret, image_file: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:  # sparse: costs no disk, and must never be read
        handle.truncate(MAX_IMAGE_FILE_BYTES + 1)
    documents = [
        Document(content="big", meta={"file_path": str(big)}),
        Document(content="ok", meta={"file_path": str(image_file)}),
    ]
    embedder = JinaDocumentImageEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False, raise_on_failure=False
    )
    result = embedder.run(documents)
    (failed,) = result["meta"]["failed_documents"]
    assert failed["id"] == documents[0].id and "over the limit of 50 MB" in failed["error"]
    assert result["documents"][1].embedding is not None
    assert all("big.png" not in str(r.json) for r in emulator.requests)


def test_a_failed_image_load_keeps_no_file_bytes_alive(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4 * 1024 * 1024))  # a PNG signature, then garbage
    source = ImageSource("doc-1", corrupt, "image/png")
    try:
        image_base64(source)
    except JinaInputError as error:
        caught: BaseException = error
    else:
        pytest.fail("a corrupt image must raise")
    assert caught.__context__ is None and caught.__cause__ is None
    assert _largest_reachable_bytes(caught) < 1024 * 1024


def _largest_reachable_bytes(root: object) -> int:
    """The largest bytes object reachable from an error through its context, tracebacks and their frames' locals."""
    seen: set[int] = set()
    stack: list[object] = [root]
    largest = 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, bytes | bytearray | memoryview):
            largest = max(largest, len(item))
        elif isinstance(item, BaseException):
            stack.extend([item.__traceback__, item.__context__, item.__cause__, *item.args])
        elif isinstance(item, types.TracebackType):
            stack.extend([item.tb_frame, item.tb_next])
        elif isinstance(item, types.FrameType):
            stack.extend(item.f_locals.values())
        elif isinstance(item, list | tuple | set | dict):
            stack.extend(item.values() if isinstance(item, dict) else item)
        elif hasattr(item, "__dict__") and not isinstance(item, type | types.ModuleType | types.FunctionType):
            stack.extend(vars(item).values())
    return largest


def test_a_list_source_id_fails_only_its_document(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [
        Document(content="first chunk", meta={"source_id": "a", "split_id": 0}),
        Document(content="odd chunk", meta={"source_id": ["not", "hashable"]}),
        Document(content="second chunk", meta={"source_id": "a", "split_id": 1}),
    ]
    embedder = JinaDocumentEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, late_chunking=True, progress_bar=False
    )
    with pytest.raises(JinaInputError, match="source_id") as info:
        embedder.run(documents)
    assert documents[1].id in str(info.value)

    embedder.raise_on_failure = False
    result = embedder.run(documents)
    embedded = [d.embedding is not None for d in result["documents"]]
    assert embedded == [True, False, True]
    assert [f["id"] for f in result["meta"]["failed_documents"]] == [documents[1].id]
