"""One bad input fails only its own document: the rest of its batch is sent again (issue 28, item 1)."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path
from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, head, request_body
from PIL import Image

from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaSparseDocumentEmbedder,
)
from haystack_integrations.testing.jina import JinaEmulator

LONG = "word " * 9000  # over jina-embeddings-v3's 8192 tokens


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    Image.new("RGB", (40, 30), "red").save(tmp_path / "red.png")
    return tmp_path


def failed_ids(result: dict[str, Any]) -> list[str]:
    return [failure["id"] for failure in result["meta"]["failed_documents"]]


def embedder(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaDocumentEmbedder:
    return JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False, **kwargs)


def test_an_over_long_document_fails_alone_and_its_batch_is_embedded(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(id=f"d{i}", content=f"document number {i}") for i in range(10)]
    documents[5] = Document(id="long", content=LONG)
    result = embedder(emulator, api_key, raise_on_failure=False, batch_size=4).run(documents)
    embedded = [document.embedding is not None for document in result["documents"]]
    assert embedded == [True] * 5 + [False] + [True] * 4
    assert failed_ids(result) == ["long"]
    (failure,) = result["meta"]["failed_documents"]
    # the 2026.06.29 INPUT_TOKEN_LIMIT_EXCEEDED detail gives the model's maximum, not the input's length
    assert "8192 tokens" in failure["error"] and "truncate=True" in failure["error"]


def test_at_batch_32_one_bad_document_costs_two_more_requests() -> None:
    # the figure: 43 documents, one refused, at the default batch size 32. The emulator's over-long
    # answer follows the 2026.06.29 spec (INPUT_TOKEN_LIMIT_EXCEEDED names no input: found by halving, below),
    # so a server that names the input (a 422 about input[17]) stands in for it here.
    documents = [Document(id=f"d{i}", content=f"document number {i}") for i in range(43)]
    documents[17] = Document(id="long", content="BAD " + LONG)
    with HostileServer(rejecting_server("BAD", named=True)) as server:
        lenient = JinaDocumentEmbedder(
            api_key=Secret.from_token("k"), base_url=server.url, raise_on_failure=False, progress_bar=False
        )
        result = lenient.run(documents)
        requests = server.requests
    assert sum(document.embedding is not None for document in result["documents"]) == 42
    assert failed_ids(result) == ["long"]
    # 2 batches, then the one the server named (input[17]) alone and the other 31 together
    assert requests == 4


def rejecting_server(marker: str, *, named: bool = False) -> Any:
    """
    Embeddings answers (sparse for elser-v2), refusing a request with `marker` in an input: as the reference
    words `INPUT_TOKEN_LIMIT_EXCEEDED` (no index), or with `named` a 422 about `input[k]`.
    """

    def behaviour(conn: socket.socket, request: bytes) -> None:
        sent = request_body(request)
        inputs = sent["input"]
        bad = [i for i, text in enumerate(inputs) if marker in text]
        body: dict[str, Any]
        if bad and named:
            detail = f"input[{bad[0]}] is refused."
            body = {"detail": detail, "errors": [{"field": f"input.{bad[0]}", "message": detail, "type": "x"}]}
            status = 422
        elif bad:
            body = {
                "detail": "Input text exceeds the model's maximum of 512 tokens. Use 'truncate: true' to "
                "automatically truncate, or split into smaller chunks.",
                "code": "INPUT_TOKEN_LIMIT_EXCEEDED",
                "request_id": "0123456789abcdef",
            }
            status = 400
        else:
            vector: Any = {"word": 0.5} if sent["model"] == "elser-v2" else [0.6, 0.8]
            data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(inputs))]
            body, status = {"model": sent["model"], "object": "list", "usage": {"total_tokens": 1}, "data": data}, 200
        payload = json.dumps(body).encode()
        conn.sendall(head(status, len(payload)) + payload)

    return behaviour


def test_late_chunking_groups_fail_or_succeed_whole() -> None:
    good = [Document(id=f"a{i}", content=f"chunk {i} of a", meta={"source_id": "a", "split_id": i}) for i in range(3)]
    bad = [Document(id=f"b{i}", content=f"chunk {i} of b", meta={"source_id": "b", "split_id": i}) for i in range(3)]
    bad[1] = Document(id="b1", content="BAD chunk", meta={"source_id": "b", "split_id": 1})
    with HostileServer(rejecting_server("BAD", named=True)) as server:
        late = JinaDocumentEmbedder(
            api_key=Secret.from_token("k"),
            base_url=server.url,
            raise_on_failure=False,
            progress_bar=False,
            late_chunking=True,
        )
        result = late.run(good + bad)
        requests = server.requests
    assert [document.embedding is not None for document in result["documents"]] == [True] * 3 + [False] * 3
    assert requests == 2  # b's chunks are read as one text: never split, never sent again


@pytest.mark.parametrize("bad", [0, 13, 31])
def test_a_token_limit_without_an_index_is_found_by_halving(bad: int) -> None:
    documents = [Document(id=f"d{i}", content=f"text {i}") for i in range(32)]
    documents[bad] = Document(id="bad", content="BAD text")
    with HostileServer(rejecting_server("BAD")) as server:
        sparse = JinaSparseDocumentEmbedder(
            api_key=Secret.from_token("k"), base_url=server.url, raise_on_failure=False, progress_bar=False
        )
        result = sparse.run(documents)
        requests = server.requests
    assert [d.sparse_embedding is not None for d in result["documents"]] == [i != bad for i in range(32)]
    (failure,) = result["meta"]["failed_documents"]
    assert failure["id"] == "bad" and "INPUT_TOKEN_LIMIT_EXCEEDED" in failure["error"]
    # at most two requests per halving (5 for 32), plus the first
    assert requests <= 1 + 2 * math.log2(32)


@pytest.mark.nonconforming  # an unknown model, on purpose: a rejection that no input is at fault for
def test_a_rejection_about_the_request_is_not_split(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content=f"text {i}") for i in range(8)]
    result = embedder(emulator, api_key, raise_on_failure=False, model="my-own-model").run(documents)
    assert len(result["meta"]["failed_documents"]) == 8
    assert len(emulator.requests_to("/v1/embeddings")) == 1  # no input is at fault: one request, not 15


def test_a_bad_image_fails_alone_in_the_image_embedder(emulator: JinaEmulator, api_key: Secret, pictures: Path) -> None:
    documents = [Document(id=f"p{i}", meta={"file_path": str(pictures / "red.png")}) for i in range(6)]
    documents[2] = Document(id="nowhere", meta={"file_path": "http://127.0.0.1:9/missing.png"})
    image_embedder = JinaDocumentImageEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, raise_on_failure=False, progress_bar=False
    )
    result = image_embedder.run(documents)
    assert [d.embedding is not None for d in result["documents"]] == [i != 2 for i in range(6)]
    assert failed_ids(result) == ["nowhere"]


def test_a_bad_image_fails_alone_in_the_classifier(emulator: JinaEmulator, api_key: Secret, pictures: Path) -> None:
    documents = [Document(id=f"t{i}", content=f"something {i}") for i in range(5)]
    documents[3] = Document(id="nowhere", meta={"file_path": "http://127.0.0.1:9/missing.png"})
    classifier = JinaDocumentClassifier(
        ["red", "blue"],
        model="jina-clip-v2",
        api_key=api_key,
        base_url=emulator.classify_url,
        raise_on_failure=False,
        progress_bar=False,
    )
    result = classifier.run(documents)
    assert ["classification" in d.meta for d in result["documents"]] == [i != 3 for i in range(5)]
    assert failed_ids(result) == ["nowhere"]
    assert len(emulator.requests_to("/v1/classify")) == 3
