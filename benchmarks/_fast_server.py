"""A fast stand-in for `/v1/embeddings`, for benchmarks that measure the client, not the server.

Raw asyncio streams, HTTP/1.1 keep-alive, one precomputed vector (1024 float32 values by default,
base64 when the request asks for it, else JSON floats) repeated for every input: it answers hundreds of
concurrent requests while spending little CPU, so what a benchmark measures is the client. It is NOT the
JinaEmulator (no validation, no meaningful vectors) and is not part of the package.

    python benchmarks/_fast_server.py --latency 0.1 --dimensions 1024
    # prints "fast server at http://127.0.0.1:PORT"; GET /stats gives {"requests", "max_in_flight"}
    # and resets them.

Run it in its own process (`fast_server_process`), so its CPU is not counted as the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class _Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0


def _vectors(dimensions: int) -> dict[str, bytes]:
    """One unit vector, as the JSON value of `embedding`: base64 of float32 (quoted), or a JSON list."""
    rng = random.Random(0)
    values = [rng.uniform(-1.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    floats = struct.unpack(f"<{dimensions}f", packed)
    return {"base64": b'"' + base64.b64encode(packed) + b'"', "float": json.dumps(list(floats)).encode()}


def _embeddings_answer(body: bytes, vectors: dict[str, bytes]) -> bytes:
    request = json.loads(body)
    vector = vectors["base64" if request.get("embedding_type") == "base64" else "float"]
    inputs = request.get("input", [])
    count = len(inputs) if isinstance(inputs, list) else 1
    chars = sum(len(x) for x in inputs if isinstance(x, str)) if isinstance(inputs, list) else 0
    tokens = max(1, chars // 4)
    item = b'{"object":"embedding","index":%d,"embedding":' + vector.replace(b"%", b"%%") + b"}"
    data = b",".join(item % i for i in range(count))
    return b'{"model":"%s","object":"list","usage":{"total_tokens":%d,"prompt_tokens":%d},"data":[%s]}' % (
        str(request.get("model", "")).encode(),
        tokens,
        tokens,
        data,
    )


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, vectors: dict[str, bytes], stats: _Stats
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            method, path = request_line.split(" ")[:2]
            if method == "GET" and path == "/stats":
                payload = json.dumps({"requests": stats.requests, "max_in_flight": stats.max_in_flight}).encode()
                stats.requests = stats.max_in_flight = 0
            else:
                stats.requests += 1
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                try:
                    if latency:
                        await asyncio.sleep(latency)
                    payload = _embeddings_answer(body, vectors)
                finally:
                    stats.in_flight -= 1
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(latency: float, dimensions: int, port: int) -> None:
    vectors, stats = _vectors(dimensions), _Stats()
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, latency, vectors, stats), "127.0.0.1", port, backlog=2048, limit=1 << 24
    )
    print(f"fast server at http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def fast_server_process(latency: float, dimensions: int = 1024) -> Iterator[str]:
    """Start the server in a child process; yields its base URL."""
    command = [sys.executable, __file__, "--latency", str(latency), "--dimensions", str(dimensions)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        url = line.rsplit(" ", 1)[-1].strip()
        if not url.startswith("http"):
            raise RuntimeError(f"fast server did not start: {line!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_stats(url: str) -> dict[str, int]:
    """Requests and the most in flight at once since the last call (which resets them)."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/stats", timeout=10) as answer:
        stats: dict[str, int] = json.loads(answer.read())
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each request is held")
    parser.add_argument("--dimensions", type=int, default=1024)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.latency, args.dimensions, args.port))


if __name__ == "__main__":
    main()
