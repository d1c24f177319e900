"""A fast stand-in for `/v1/embeddings`, for benchmarks that measure the client, not the server.

Raw asyncio streams, HTTP/1.1 keep-alive, one precomputed vector (1024 float32 values by default,
base64 when the request asks for it, else JSON floats) repeated for every input: it answers hundreds of
concurrent requests while spending little CPU, so what a benchmark measures is the client. It is NOT the
JinaEmulator (no validation, no meaningful vectors) and is not part of the package.

    python benchmarks/_fast_server.py --latency 0.1 --dimensions 1024
    # prints "fast server at http://127.0.0.1:PORT"; GET /stats gives {"requests", "max_in_flight", ...}
    # and resets them.
    python benchmarks/_fast_server.py --latency 0.1 --limits free   # enforce one key's limits (see below)

With `--limits` (a tier or `rpm=..,tpm=..,concurrency=..`) it enforces them per key, with the emulator's
`RateLimiter` (`testing/jina/limits.py`: the same 429 codes, `Retry-After` and `X-RateLimit-Remaining-*`
headers), across every process that sends that key; `/stats` then also gives the refusals, their times
after the first request, and the key's windows.

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
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from haystack_integrations.common.jina.ratelimit import parse_limits
from haystack_integrations.testing.jina.limits import RateLimiter


class _Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first: float | None = None  # when the first request since the last reset arrived
        self.refused: list[tuple[float, str]] = []  # (seconds after `first`, code)

    def report(self, limiter: RateLimiter | None) -> bytes:
        shown: dict[str, Any] = {"requests": self.requests, "max_in_flight": self.max_in_flight}
        if limiter is not None:
            windows = limiter.windows()
            origin = windows[0].start if windows else 0.0
            shown["refused"] = len(self.refused)
            shown["refused_after_first_second"] = sum(at > 1.0 for at, _ in self.refused)
            shown["refused_by_code"] = {code: sum(c == code for _, c in self.refused) for _, code in self.refused}
            shown["windows"] = [
                {"start": round(w.start - origin, 3), "requests": w.requests, "tokens": w.tokens} for w in windows
            ]
            limiter.reset()
        self.requests = self.max_in_flight = 0
        self.first, self.refused = None, []
        return json.dumps(shown).encode()


def _vectors(dimensions: int) -> dict[str, bytes]:
    """One unit vector, as the JSON value of `embedding`: base64 of float32 (quoted), or a JSON list."""
    rng = random.Random(0)
    values = [rng.uniform(-1.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    floats = struct.unpack(f"<{dimensions}f", packed)
    return {"base64": b'"' + base64.b64encode(packed) + b'"', "float": json.dumps(list(floats)).encode()}


def _embeddings_answer(body: bytes, vectors: dict[str, bytes]) -> tuple[bytes, int]:
    request = json.loads(body)
    vector = vectors["base64" if request.get("embedding_type") == "base64" else "float"]
    inputs = request.get("input", [])
    count = len(inputs) if isinstance(inputs, list) else 1
    chars = sum(len(x) for x in inputs if isinstance(x, str)) if isinstance(inputs, list) else 0
    tokens = max(1, chars // 4)
    item = b'{"object":"embedding","index":%d,"embedding":' + vector.replace(b"%", b"%%") + b"}"
    data = b",".join(item % i for i in range(count))
    answer = b'{"model":"%s","object":"list","usage":{"total_tokens":%d,"prompt_tokens":%d},"data":[%s]}' % (
        str(request.get("model", "")).encode(),
        tokens,
        tokens,
        data,
    )
    return answer, tokens


def _refusal(code: str, detail: str) -> bytes:
    """A 429 body as Jina's `ErrorResponse` (`detail`, `code`, `request_id`)."""
    return json.dumps({"detail": detail, "code": code, "request_id": "0" * 16}).encode()


def _head(status: str, length: int, headers: dict[str, str]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{lines}\r\n".encode()


async def _handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    latency: float,
    vectors: dict[str, bytes],
    stats: _Stats,
    limiter: RateLimiter | None,
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            length, key = 0, ""
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "authorization":
                    key = value.strip()
            body = await reader.readexactly(length) if length else b""
            method, path = request_line.split(" ")[:2]
            status, headers = "200 OK", {}
            if method == "GET" and path == "/stats":
                payload = stats.report(limiter)
            else:
                now = time.monotonic()
                stats.first = stats.first or now
                stats.requests += 1
                payload, tokens = _embeddings_answer(body, vectors)
                refusal = limiter.admit(key, tokens) if limiter else None
                if refusal is not None:  # at once, as a rate-limit refusal comes
                    stats.refused.append((now - stats.first, refusal.code))
                    status, payload = "429 Too Many Requests", _refusal(refusal.code, refusal.detail)
                    if refusal.retry_after is not None:
                        headers["Retry-After"] = str(refusal.retry_after)
                else:
                    stats.in_flight += 1
                    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                    try:
                        if latency:
                            await asyncio.sleep(latency)
                    finally:
                        stats.in_flight -= 1
                        if limiter:
                            limiter.finish(key)
                if limiter:
                    headers.update(limiter.headers(key))
            writer.write(_head(status, len(payload), headers) + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(latency: float, dimensions: int, port: int, limiter: RateLimiter | None) -> None:
    vectors, stats = _vectors(dimensions), _Stats()
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, latency, vectors, stats, limiter), "127.0.0.1", port, backlog=2048, limit=1 << 24
    )
    print(f"fast server at http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def fast_server_process(latency: float, dimensions: int = 1024, limits: list[str] | None = None) -> Iterator[str]:
    """Start the server in a child process; yields its base URL. `limits`: the key-limit flags (see `main`)."""
    command = [sys.executable, __file__, "--latency", str(latency), "--dimensions", str(dimensions), *(limits or [])]
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


def server_stats(url: str) -> dict[str, Any]:
    """Requests and the most in flight at once since the last call (which resets them), and refusals with limits."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/stats", timeout=10) as answer:
        stats: dict[str, Any] = json.loads(answer.read())
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each request is held")
    parser.add_argument("--dimensions", type=int, default=1024)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--limits", help="enforce per key: free, tier1, tier2 or rpm=N,tpm=N,concurrency=N")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds per RPM/TPM window")
    parser.add_argument("--rate-clock", choices=["first-request", "fixed"], default="first-request")
    parser.add_argument("--no-retry-after", action="store_true", help="RPM/TPM refusals without Retry-After")
    args = parser.parse_args()
    limiter = None
    if args.limits:
        limits = parse_limits(args.limits)
        clock, retry_after = args.rate_clock, not args.no_retry_after
        limiter = RateLimiter(limits, window=args.rate_window, retry_after=retry_after, clock=clock)
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.latency, args.dimensions, args.port, limiter))


if __name__ == "__main__":
    main()
