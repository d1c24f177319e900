"""Concurrency and rate limits at every tier: the figures of the concurrency issue, against the ideal.

    python benchmarks/bench_concurrency.py                      # this tree only
    python benchmarks/bench_concurrency.py --baseline add61cb   # and the same scenarios on an older commit
    python benchmarks/bench_concurrency.py --window 2           # shorter rate windows for (f): figures per window

Scenarios (100 ms per request everywhere):

(a) 2000 documents, batch 32, `max_concurrency=50`, a server without limits: wall vs ideal (2 rounds).
(b) one JinaTextEmbedder, 500 and 1000 concurrent `run_async` calls, `JINA_RATE_LIMITS=tier2`, warm:
    wall time and the event loop's lag p99, against aiohttp sending the same requests to the same server.
(c) 50 concurrent `Pipeline.run_async` queries through one query pipeline (text embedder -> retriever ->
    ranker), `JINA_RATE_LIMITS=tier1`: wall vs the ideal (two requests in a row).
(d) Free tier (a server allowing 5 concurrent requests), nothing stated: 63 batches, wall vs ideal, refusals.
(e) recovery: a lone concurrency 429 while nothing of ours is in flight, then 100 batches at
    `max_concurrency=10`: wall vs ideal and the key's bound afterwards.
(f) a TPM-bound job on windows that sit on a fixed clock, 429s without Retry-After: pace (tokens admitted
    per window over the TPM) and refusals per window.

(a)-(c) use a fast asyncio server in another process (aiohttp), since a thread-per-connection server cannot
answer hundreds of requests at once; (d)-(f) use the JinaEmulator with limits. Each scenario runs in a fresh
process, once with this tree and once with `--baseline` (a commit, extracted with `git archive`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LATENCY = 0.1
DIMENSIONS = 64


# ---------------------------------------------------------------------------------------- the fast server
def serve(port: int) -> None:
    """An aiohttp server answering embeddings and rerank after LATENCY, any number at once."""
    from aiohttp import web

    vector = base64.b64encode(bytes(4 * DIMENSIONS)).decode()

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(LATENCY)
        count = len(body["input"])
        data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)]
        usage = {"total_tokens": count, "prompt_tokens": count}
        return web.json_response({"model": body["model"], "object": "list", "usage": usage, "data": data})

    async def rerank(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(LATENCY)
        count = min(len(body["documents"]), body.get("top_n") or len(body["documents"]))
        results = [{"index": i, "relevance_score": 1.0 / (i + 1)} for i in range(count)]
        return web.json_response({"model": body["model"], "usage": {"total_tokens": 1}, "results": results})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/rerank", rerank)
    web.run_app(app, host="127.0.0.1", port=port, print=None, backlog=4096)


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


# ---------------------------------------------------------------------------------------- scenarios
def scenario_a(origin: str) -> dict[str, Any]:
    from haystack import Document

    from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

    embedder = JinaDocumentEmbedder(base_url=f"{origin}/v1/embeddings", max_concurrency=50, progress_bar=False)
    embedder.run([Document(content="warm up")])
    documents = [Document(content=f"document {i} about benchmarks") for i in range(2000)]
    start = time.perf_counter()
    result = embedder.run(documents)
    wall = time.perf_counter() - start
    assert all(d.embedding for d in result["documents"])
    ideal = math.ceil(math.ceil(2000 / 32) / 50) * LATENCY
    return {"wall": wall, "ideal": ideal, "ratio": wall / ideal}


async def _lag_p99(work: Any) -> tuple[Any, float]:
    lags: list[float] = []
    running = True

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while running:
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    tick = asyncio.ensure_future(ticker())
    try:
        result = await work
    finally:
        running = False
        await tick
    return result, statistics.quantiles(lags, n=100)[98] if len(lags) > 2 else 0.0


def scenario_b(origin: str) -> dict[str, Any]:
    os.environ["JINA_RATE_LIMITS"] = "tier2"
    from haystack_integrations.components.embedders.jina import JinaTextEmbedder

    figures: dict[str, Any] = {}
    embedder = JinaTextEmbedder(base_url=f"{origin}/v1/embeddings")

    async def ours(count: int) -> None:
        await asyncio.gather(*(embedder.run_async(f"query {i}") for i in range(count)))

    async def raw(count: int) -> None:
        import aiohttp

        body = {"model": "jina-embeddings-v3", "input": ["query"], "embedding_type": "base64"}
        headers = {"Authorization": f"Bearer {os.environ['JINA_API_KEY']}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one() -> None:
                async with session.post(f"{origin}/v1/embeddings", json=body, headers=headers) as response:
                    await response.read()

            await asyncio.gather(*(one() for _ in range(count)))
            start = time.perf_counter()
            _, lag = await _lag_p99(asyncio.gather(*(one() for _ in range(count))))
            figures[f"aiohttp_{count}"] = time.perf_counter() - start
            figures[f"aiohttp_lag_p99_ms_{count}"] = lag * 1000

    async def main() -> None:
        await embedder.run_async("warm up")
        for count in (500, 1000):
            await ours(count)  # warm: connections open
            start = time.perf_counter()
            _, lag = await _lag_p99(ours(count))
            figures[f"ours_{count}"] = time.perf_counter() - start
            figures[f"lag_p99_ms_{count}"] = lag * 1000
            await raw(count)
            figures[f"ratio_{count}"] = figures[f"ours_{count}"] / figures[f"aiohttp_{count}"]
        # One more 1000 with the start-up heap frozen (gc.freeze, as servers do after start-up): a full
        # collection then walks only what the requests made, not every object Haystack's imports made.
        gc.freeze()
        _, lag = await _lag_p99(ours(1000))
        figures["lag_p99_ms_1000_frozen"] = lag * 1000

    asyncio.run(main())
    return figures


def scenario_c(origin: str) -> dict[str, Any]:
    os.environ["JINA_RATE_LIMITS"] = "tier1"
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from haystack_integrations.components.embedders.jina import JinaTextEmbedder
    from haystack_integrations.components.rankers.jina import JinaRanker

    try:
        from haystack import AsyncPipeline as PipelineClass  # type: ignore[attr-defined]
    except ImportError:
        PipelineClass = Pipeline  # noqa: N806
    store = InMemoryDocumentStore()
    store.write_documents([Document(content=f"doc {i}", embedding=[0.1] * DIMENSIONS) for i in range(20)])
    pipeline = PipelineClass()
    pipeline.add_component("embedder", JinaTextEmbedder(base_url=f"{origin}/v1/embeddings"))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(store, top_k=10))
    pipeline.add_component("ranker", JinaRanker(base_url=f"{origin}/v1/rerank", top_k=3))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    pipeline.connect("retriever.documents", "ranker.documents")

    def inputs(i: int) -> dict[str, Any]:
        return {"embedder": {"text": f"question {i}"}, "ranker": {"query": f"question {i}"}}

    async def main() -> float:
        await pipeline.run_async(inputs(-1))
        start = time.perf_counter()
        await asyncio.gather(*(pipeline.run_async(inputs(i)) for i in range(50)))
        return time.perf_counter() - start

    wall = asyncio.run(main())
    ideal = 2 * LATENCY
    return {"wall": wall, "ideal": ideal, "ratio": wall / ideal}


def scenario_d(_origin: str) -> dict[str, Any]:
    from haystack import Document

    from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
    from haystack_integrations.testing.jina import JinaEmulator

    with JinaEmulator(api_key=os.environ["JINA_API_KEY"], limits="free", latency=LATENCY) as emulator:
        embedder = JinaDocumentEmbedder(base_url=emulator.embeddings_url, progress_bar=False)
        documents = [Document(content=f"document {i} about pacing") for i in range(2000)]
        start = time.perf_counter()
        result = embedder.run(documents)
        wall = time.perf_counter() - start
        assert all(d.embedding for d in result["documents"])
        refused = sum(emulator.rate.refused().values())
    ideal = math.ceil(63 / 5) * LATENCY
    return {"wall": wall, "ideal": ideal, "ratio": wall / ideal, "refused": refused}


def scenario_e(_origin: str) -> dict[str, Any]:
    from haystack import Document

    from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
    from haystack_integrations.testing.jina import JinaEmulator

    with JinaEmulator(api_key=os.environ["JINA_API_KEY"], latency=LATENCY) as emulator:
        embedder = JinaDocumentEmbedder(
            base_url=emulator.embeddings_url, batch_size=1, max_concurrency=10, progress_bar=False
        )
        embedder.run([Document(content="warm up")])
        emulator.inject("status", status=429, code="RATE_CONCURRENCY_LIMIT_EXCEEDED", times=1)
        start = time.perf_counter()
        embedder.run([Document(content="the lone refusal")])  # refused with nothing else of ours in flight
        recovery = time.perf_counter() - start
        documents = [Document(content=f"document {i}") for i in range(100)]
        start = time.perf_counter()
        embedder.run(documents)
        wall = time.perf_counter() - start
        in_flight = emulator.max_in_flight
    ideal = 10 * LATENCY
    return {"recovery": recovery, "wall": wall, "ideal": ideal, "ratio": wall / ideal, "max_in_flight": in_flight}


def scenario_f(_origin: str, window: float) -> dict[str, Any]:
    os.environ["JINA_RATE_WINDOW"] = str(window)
    from haystack import Document

    from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
    from haystack_integrations.testing.jina import JinaEmulator

    tpm = 4000
    options = {"limits": {"tpm": tpm}, "retry_after": False, "rate_window": window, "latency": 0.02}
    try:
        emulator = JinaEmulator(api_key=os.environ["JINA_API_KEY"], rate_clock="fixed", **options)
    except TypeError:  # an older emulator without fixed-clock windows
        return {"skipped": "this tree's emulator has no fixed-clock windows"}
    with emulator:
        embedder = JinaDocumentEmbedder(base_url=emulator.embeddings_url, batch_size=8, progress_bar=False)
        words = "retrieval pipelines embed documents and queries into vectors so similar texts are close"
        documents = [Document(content=f"{words} {i}") for i in range(8 * 160)]
        embedder.run(documents)
        windows = emulator.rate.windows()
    used = [w for w in windows if w.tokens]
    full = used[1:-1] or used  # the first window is joined mid-way (fixed clock), the last is the tail
    pace = sum(w.tokens for w in full) / (len(full) * tpm)
    return {
        "windows": len(used),
        "pace": pace,
        "max_refused_per_window": max(sum(w.refused.values()) for w in windows),
        "refused": sum(sum(w.refused.values()) for w in windows),
    }


SCENARIOS = {"a": scenario_a, "b": scenario_b, "c": scenario_c, "d": scenario_d, "e": scenario_e, "f": scenario_f}


def run_one(name: str, source: Path, origin: str, window: float) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "JINA_API_KEY": "bench-key",
        "JINA_API_BASE_URL": "",
        "HAYSTACK_TELEMETRY_ENABLED": "False",
    }
    env.pop("JINA_RATE_LIMITS", None)
    env.pop("JINA_RATE_WINDOW", None)
    command = [sys.executable, __file__, "--scenario", name, "--origin", origin, "--window", str(window)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(lines[-1]))


def _shown(key: str, value: Any) -> str:
    return f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a commit to measure the same scenarios on")
    parser.add_argument("--only", default="abcdef", help="scenarios to run, e.g. 'ab'")
    parser.add_argument("--window", type=float, default=2.0, help="seconds per rate window in (f)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.scenario:
        random.seed(0)
        scenario = SCENARIOS[args.scenario]
        result = scenario(args.origin, args.window) if args.scenario == "f" else scenario(args.origin)
        print(json.dumps(result))
        return

    server, origin = start_server()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            trees = {"this tree": ROOT / "src"}
            if args.baseline:
                trees[f"baseline {args.baseline}"] = extract(args.baseline, Path(scratch))
            for name in args.only:
                for label, source in trees.items():
                    figures = run_one(name, source, origin, args.window)
                    shown = ", ".join(_shown(key, value) for key, value in figures.items())
                    print(f"({name}) {label:>20}: {shown}", flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
