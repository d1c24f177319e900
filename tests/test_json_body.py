"""`encode_json` / `JsonBody`: request bodies that hold large base64 images once, sent over HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest
from haystack.utils import Secret

from haystack_integrations.common.jina.client import JinaClient, encode_json
from haystack_integrations.testing.jina import JinaEmulator


def test_bytes_values_are_spliced_as_json_strings() -> None:
    payload = {"model": "m", "input": [{"image": b"QUJD"}, 'text with "quotes" and ü', {"image": b"REVG"}]}
    body = encode_json(payload)
    expected = {"model": "m", "input": [{"image": "QUJD"}, 'text with "quotes" and ü', {"image": "REVG"}]}
    assert json.loads(bytes(body)) == expected
    assert body.length == len(bytes(body))
    assert any(piece is payload["input"][0]["image"] for piece in body.pieces)  # not copied


def test_a_text_that_looks_like_a_marker_stays_text() -> None:
    body = encode_json({"input": ["jina-blob-0", '"jina-blob-1"'], "x": b"QQ=="})
    assert json.loads(bytes(body)) == {"input": ["jina-blob-0", '"jina-blob-1"'], "x": "QQ=="}


def test_the_stream_sends_every_byte_in_bounded_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    from haystack_integrations.common.jina.http import body as body_module

    monkeypatch.setattr(body_module, "_WRITE_SLICE", 64)
    body = encode_json({"input": [b"A" * 1000, b"B" * 10, "c"]})

    async def collect() -> list[bytes]:
        return [block async for block in body.stream()]

    blocks = asyncio.run(collect())
    assert all(len(block) <= 64 for block in blocks)
    assert b"".join(blocks) == bytes(body) and len(bytes(body)) == body.length


def test_non_serializable_values_still_fail() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        encode_json({"x": {1}})


def test_a_retried_request_sends_the_whole_body_again(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=503, code="SERVICE_UNAVAILABLE")
    body = encode_json({"model": "jina-embeddings-v3", "input": ["hello", "world"]})
    answer = JinaClient(api_key, max_retries=1).post_json(emulator.embeddings_url, body)
    assert len(answer["data"]) == 2
    first, second = emulator.requests
    assert first.body == second.body == bytes(body)
    assert first.header("Content-Type") == "application/json" and first.header("Content-Length") == str(body.length)
