"""Training is not retried once the server may have acted on it (issue 28, item 4)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from haystack.utils import Secret
from hostile_server import HostileServer, answer, head

from haystack_integrations.common.jina.errors import (
    JinaBadRequestError,
    JinaConnectionError,
    JinaServerError,
    JinaTimeoutError,
)
from haystack_integrations.components.classifiers.jina import train_classifier

KEY = Secret.from_token("k")
EXAMPLES = [("Boil the pasta in salted water", "cooking"), ("Score a goal from the corner", "sports")]


def train(url: str, **kwargs: Any) -> str:
    return train_classifier(EXAMPLES, api_key=KEY, base_url=url.replace("/v1/embeddings", "/v1/train"), **kwargs)


def test_a_500_is_not_retried() -> None:
    body = {"detail": "Internal error", "code": "INTERNAL_ERROR", "request_id": "0123456789abcdef"}
    with HostileServer(answer(body, status=500)) as server:
        with pytest.raises(JinaServerError, match="INTERNAL_ERROR"):
            train(server.url, max_retries=5)
        assert server.requests == 1


def test_a_timeout_is_not_retried() -> None:
    def slow(conn: socket.socket, _request: bytes) -> None:
        time.sleep(0.6)
        payload = b'{"classifier_id": "c1", "num_samples": 2, "usage": {"total_tokens": 1}}'
        conn.sendall(head(200, len(payload)) + payload)

    with HostileServer(slow) as server:
        with pytest.raises(JinaTimeoutError):
            train(server.url, max_retries=5, timeout=0.2)
        assert server.requests == 1


def test_a_rate_limit_refusal_is_retried() -> None:
    refusals = iter([True])

    def refuse_once(conn: socket.socket, _request: bytes) -> None:
        if next(refusals, False):
            payload = b'{"detail": "slow down", "code": "RATE_REQUEST_LIMIT_EXCEEDED", "request_id": "0"}'
            conn.sendall(head(429, len(payload), "Retry-After: 0\r\n") + payload)
            return
        payload = b'{"classifier_id": "c1", "num_samples": 2, "usage": {"total_tokens": 1}}'
        conn.sendall(head(200, len(payload)) + payload)

    with HostileServer(refuse_once) as server:
        assert train(server.url, max_retries=2) == "c1"
        assert server.requests == 2


def test_a_refused_connection_is_retried() -> None:
    # nothing listens: the connection fails before a byte is sent, so another try is safe
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(JinaConnectionError, match="gave up after 3 attempts"):
        train(f"http://127.0.0.1:{port}/v1/train", max_retries=2)
    assert time.monotonic() - started < 30


def test_a_422_does_not_quote_the_training_examples_back() -> None:
    echo = [{"text": "Boil the pasta in salted water", "label": "cooking"}]
    validation = {"type": "value_error", "loc": ["body", "input"], "msg": "too few labels", "input": echo}
    spec_shaped = {"field": "input", "input": echo, "message": "too few labels", "type": "value_error"}
    for body in ({"detail": [validation]}, {"errors": [spec_shaped]}, {"detail": "bad", "errors": [spec_shaped]}):
        with HostileServer(answer(body, status=422)) as server, pytest.raises(JinaBadRequestError) as caught:
            train(server.url, max_retries=0)
        assert "too few labels" in str(caught.value) or "bad" in str(caught.value)
        assert "pasta" not in str(caught.value)
        assert "pasta" not in (caught.value.detail or "")
