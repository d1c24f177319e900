"""How long one call can take against a slow or failing server, and how fast a failure surfaces.

    python benchmarks/bench_failure_latency.py            # timeout 2 s
    python benchmarks/bench_failure_latency.py --timeout 1

Prints, for each slow-server fault, the wall time of one `JinaTextEmbedder.run` (against the JinaEmulator,
or a raw socket server for faults the emulator cannot produce) next to the bound the client promises:
`timeout` per attempt, so `(max_retries + 1) x timeout + backoff` per call. Then, for a
`JinaDocumentEmbedder` run whose other batches sleep a 30 s `Retry-After`, the time from the first
fatal answer to the raise, and how many requests a cancelled `run_async` still sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina import ratelimit
from haystack_integrations.common.jina.client import MAX_RETRY_AFTER, JinaClient
from haystack_integrations.common.jina.errors import JinaError
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.testing.jina import JinaEmulator


def timed(call: Callable[[], Any]) -> tuple[float, str]:
    start = time.monotonic()
    try:
        call()
        outcome = "ok"
    except JinaError as error:
        outcome = type(error).__name__
    return time.monotonic() - start, outcome


def header_trickle_server(pause: float) -> tuple[str, Callable[[], None]]:
    """A server that answers every request one byte every `pause` seconds, headers included."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def serve(conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            for i in range(len(answer)):
                if stop.is_set():
                    break
                conn.sendall(answer[i : i + 1])
                time.sleep(pause)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def close() -> None:
        stop.set()
        listener.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1/embeddings", close


def slow_server_faults(jina: JinaEmulator, key: Secret, timeout: float) -> None:
    print(f"One JinaTextEmbedder.run, timeout={timeout} s (wall time; bound = (max_retries + 1) x timeout + backoff)")
    print(f"{'fault':<46}{'retries':>8}{'wall s':>9}{'bound s':>9}  outcome")
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("body trickle, 1 byte / 0.2 s (~10 min whole)", "trickle", {"delay": 0.2}, 0),
        ("stall 30 s after the headers", "stall", {"delay": 30.0}, 0),
        ("no answer for 30 s", "latency", {"delay": 30.0}, 0),
        ("body trickle on every attempt", "trickle", {"delay": 0.2, "times": 3}, 2),
        ("429, Retry-After 3600 s (over the 60 s cap)", "status", {"status": 429, "retry_after": 3600}, 5),
        ("429, Retry-After 3 s, then ok", "status", {"status": 429, "retry_after": 3}, 5),
    ]
    for label, kind, options, retries in cases:
        jina.reset()
        ratelimit.forget_all()  # each case on a fresh pacer: a learned Retry-After holds every later request
        jina.inject(kind, path="/v1/embeddings", **options)
        embedder = JinaTextEmbedder(api_key=key, base_url=jina.embeddings_url, timeout=timeout, max_retries=retries)
        wall, outcome = timed(lambda e=embedder: e.run("a slow answer"))  # type: ignore[misc]
        if kind == "status":  # the server's Retry-After replaces the backoff
            bound = (retries + 1) * timeout + min(options["retry_after"], MAX_RETRY_AFTER) * retries
        else:
            backoff = sum(min(JinaClient.backoff_cap, JinaClient.backoff_base * 2**i) for i in range(retries))
            bound = (retries + 1) * timeout + backoff
        print(f"{label:<46}{retries:>8}{wall:>9.2f}{bound:>9.1f}  {outcome}")

    url, close = header_trickle_server(0.2)
    try:
        embedder = JinaTextEmbedder(api_key=key, base_url=url, timeout=timeout, max_retries=0)
        wall, outcome = timed(lambda: embedder.run("a slow answer"))
        label = "headers trickle, 1 byte / 0.2 s (raw server)"
        print(f"{label:<46}{0:>8}{wall:>9.2f}{timeout:>9.1f}  {outcome}")
    finally:
        close()


def fail_fast(jina: JinaEmulator, key: Secret) -> None:
    jina.reset()
    ratelimit.forget_all()
    fatal_at: list[float] = []
    first: list[bytes] = []

    # The first batch to arrive fails for good; the others are refused at once with a 30 s Retry-After, so their
    # retries are waiting when the fatal answer comes (by arrival: a bad batch still unsent when the first 429
    # came back would itself be held by the pacer until the window ends).
    def is_bad(request: Any) -> bool:
        if not first:
            first.append(request.body)
            fatal_at.append(time.monotonic() + 0.5)  # answered after the emulator's 0.5 s latency
        return bool(request.body == first[0])

    jina.latency = 0.5
    jina.inject("status", status=400, detail="bad input", when=is_bad)
    jina.inject("status", status=429, retry_after=30, times=10_000, when=lambda r: not is_bad(r))
    documents = [Document(content=f"document {i} text") for i in range(64)]
    embedder = JinaDocumentEmbedder(
        api_key=key, base_url=jina.embeddings_url, batch_size=1, max_concurrency=8, progress_bar=False
    )
    start = time.monotonic()
    wall, outcome = timed(lambda: embedder.run(documents))
    raised_at = start + wall
    time.sleep(0.5)
    print()
    print(
        "Fail fast: 64 batches, 8 at a time; the first to arrive gets a 400 after 0.5 s, "
        "the rest 429 with Retry-After 30 s"
    )
    print(f"  first fatal answer at {fatal_at[0] - start:.2f} s, raised ({outcome}) at {wall:.2f} s:")
    print(f"  time from the fatal answer to the raise: {(raised_at - fatal_at[0]) * 1000:.0f} ms")
    print(f"  requests sent: {len(jina.requests)} of 64 batches (no more after the raise)")


def cancellation(jina: JinaEmulator, key: Secret) -> None:
    jina.reset()
    ratelimit.forget_all()
    jina.latency = 0.2
    documents = [Document(content=f"document {i} text") for i in range(64)]
    embedder = JinaDocumentEmbedder(
        api_key=key, base_url=jina.embeddings_url, batch_size=1, max_concurrency=4, progress_bar=False
    )

    async def main() -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(embedder.run_async(documents), timeout=0.5)

    asyncio.run(main())
    at_cancel = len(jina.requests)
    time.sleep(1.0)
    jina.latency = 0.0
    print()
    print("Cancelled run_async (asyncio.wait_for 0.5 s; 64 batches of 0.2 s, 4 at a time)")
    print(f"  requests when cancelled: {at_cancel}; 1 s later: {len(jina.requests)}")
    print("  (before this change: 32 one second after the cancel, and on until all 64 had gone out)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    with JinaEmulator() as jina:
        assert jina.api_key is not None
        key = Secret.from_token(jina.api_key)
        slow_server_faults(jina, key, args.timeout)
        fail_fast(jina, key)
        cancellation(jina, key)


if __name__ == "__main__":
    main()
