"""Answers in flight are bounded in total, and compression bombs are refused early (issue 28, item 8)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from haystack.utils import Secret
from hostile_server import HostileServer, answer, head

from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import JinaMalformedResponseError

KEY = Secret.from_token("k")
MB = 1024 * 1024


def padded(size: int) -> bytes:
    return b'{"data": [], "pad": "' + b"0" * size + b'"}'


def test_a_compression_bomb_is_refused_long_before_the_cap() -> None:
    bomb = gzip.compress(padded(64 * MB), compresslevel=1)  # ~300 kB on the wire, under the 256 MB cap
    refused = pytest.raises(JinaMalformedResponseError, match="compression bomb")
    with HostileServer(answer(bomb, extra="Content-Encoding: gzip\r\n")) as server, refused:
        JinaClient(KEY, max_retries=0).post_json(server.url, {"input": ["x"]})


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate)]
)
def test_compressed_answers_are_read(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    body = json.dumps({"data": [{"index": 0, "embedding": [0.5] * 1000}]}).encode()
    with HostileServer(answer(compress(body), extra=f"Content-Encoding: {encoding}\r\n")) as server:
        assert JinaClient(KEY, max_retries=0).post_json(server.url, {"input": ["x"]})["data"][0]["index"] == 0


def test_an_encoding_not_asked_for_is_refused() -> None:
    refused = pytest.raises(JinaMalformedResponseError, match="'br', which this client did not ask for")
    with HostileServer(answer(b"\x00\x01", extra="Content-Encoding: br\r\n")) as server, refused:
        JinaClient(KEY, max_retries=0).post_json(server.url, {"input": ["x"]})


def test_answers_read_at_once_stay_within_the_process_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from haystack_integrations.common.jina.http import reading as answer_reading  # new in issue 28

    budget = answer_reading.AnswerBudget(10 * MB)
    monkeypatch.setattr(answer_reading, "ANSWER_BUDGET", budget)
    payload = padded(8 * MB)
    barrier = threading.Barrier(4, timeout=30)

    def together(conn: socket.socket, _request: bytes) -> None:
        barrier.wait()  # the four answers start at once
        conn.sendall(head(200, len(payload)) + payload)

    with HostileServer(together) as server:
        client = JinaClient(KEY, max_retries=0, timeout=60)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: client.post_json(server.url, {"input": ["x"]}), range(4)))
    assert all(result["data"] == [] for result in results)
    # 4 x 8 MB read at once would be 32 MB: the budget lets one reader past its limit, never more
    assert budget.peak <= 10 * MB + 8 * MB + 64 * 1024
    assert budget.used == 0
