"""The client's retry loop over a fake transport: what it sends, what it retries, what it makes of an answer."""

from __future__ import annotations

import json

import pytest
from haystack.utils import Secret

from haystack_integrations.common.jina.client import Answer, JinaClient, MockTransport, Request
from haystack_integrations.common.jina.errors import JinaBadRequestError

KEY = "jina_" + "k" * 40
URL = "https://jina.example/v1/embeddings"  # not the hosted API: no JINA_API_BASE_URL moves it


def answer(status: int, body: object, **headers: str) -> Answer:
    return Answer(status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode(), URL)


def test_a_server_failure_is_retried_and_each_try_sends_the_same_request() -> None:
    seen: list[Request] = []
    answers = [answer(503, {"detail": "busy"}), answer(200, {"ok": True})]

    def handler(request: Request) -> Answer:
        seen.append(request)
        return answers.pop(0)

    client = JinaClient(Secret.from_token(KEY), max_retries=1, transport=MockTransport(handler))
    client.backoff_base = 0.001
    assert client.post_json(URL, {"input": ["x"]}) == {"ok": True}
    assert [(r.method, r.url, r.headers["Authorization"]) for r in seen] == [("POST", URL, f"Bearer {KEY}")] * 2
    assert [bytes(r.content or b"") for r in seen] == [b'{"input": ["x"]}'] * 2  # encoded once, sent twice
    assert seen[0].timeout == client.timeout


def test_an_error_answer_is_mapped_once_with_the_key_redacted() -> None:
    transport = MockTransport(lambda request: answer(400, {"detail": f"bad key {KEY}", "code": "INPUT_X"}))
    client = JinaClient(Secret.from_token(KEY), transport=transport)
    with pytest.raises(JinaBadRequestError) as info:
        client.post_json(URL, {"input": ["x"]})
    assert info.value.code == "INPUT_X"
    assert KEY not in str(info.value) and "***" in str(info.value)
