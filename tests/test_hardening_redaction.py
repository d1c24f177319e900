"""A key is scanned for in error messages, never in a body that is parsed (issue 28, item 3)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, answer, head, request_body

from haystack_integrations.common.jina.errors import JinaMalformedResponseError
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaSparseTextEmbedder
from haystack_integrations.components.routers.jina import JinaTextRouter


def embeddings(sparse: bool) -> Any:
    def behaviour(conn: socket.socket, request: bytes) -> None:
        count = len(request_body(request)["input"])
        vector: Any = {"tokens": 0.5, "word": 0.25} if sparse else [0.6, 0.8]
        data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)]
        body = {"model": "m", "object": "list", "usage": {"total_tokens": 3}, "data": data}
        payload = json.dumps(body).encode()
        conn.sendall(head(200, len(payload)) + payload)

    return behaviour


def test_a_short_key_does_not_change_a_sparse_index_or_a_usage_count() -> None:
    with HostileServer(embeddings(sparse=True)) as server:
        plain = JinaSparseTextEmbedder(api_key=Secret.from_token("unrelated"), base_url=server.url).run("text")
        short = JinaSparseTextEmbedder(api_key=Secret.from_token("oke"), base_url=server.url).run("text")
    assert short["sparse_embedding"].to_dict() == plain["sparse_embedding"].to_dict()
    assert short["meta"]["usage"] == {"total_tokens": 3}


def test_a_short_key_does_not_change_a_label() -> None:
    predictions = [{"label": "sports", "score": 0.75}, {"label": "politics", "score": 0.25}]
    item = {"index": 0, "object": "classification", "prediction": "sports", "score": 0.75, "predictions": predictions}
    with HostileServer(answer({"data": [item], "usage": {"total_tokens": 1}})) as server:
        router = JinaTextRouter(["sports", "politics"], api_key=Secret.from_token("sports"), base_url=server.url)
        assert router.run("the match") == {"sports": "the match"}


def test_a_key_quoted_in_an_unreadable_answer_is_still_redacted() -> None:
    key = "jina_0123456789abcdefghijklmnop"
    with HostileServer(answer(f"not JSON: Bearer {key}".encode())) as server:
        embedder = JinaDocumentEmbedder(api_key=Secret.from_token(key), base_url=server.url, max_retries=0)
        with pytest.raises(JinaMalformedResponseError) as info:
            embedder.run([Document(content="text")])
    assert key[:12] not in str(info.value) and "***" in str(info.value)
