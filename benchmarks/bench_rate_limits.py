"""Benchmark JinaDocumentEmbedder against an emulator that enforces Jina's published rate limits.

    python benchmarks/bench_rate_limits.py                    # real one-minute windows: ~10 minutes
    python benchmarks/bench_rate_limits.py --window 10        # quick look; figures are then NOT per real minute
    python benchmarks/bench_rate_limits.py --policy current   # only this package's pacing, no baseline

Prints, for the pacing of this package ("current") and for the policy it replaced ("legacy": halve the
requests in flight on any 429, then exponential backoff with jitter, 0.5 s base, Retry-After honoured):

(a) concurrency-bound: Free tier (5 concurrent requests), 100 ms latency, 2000 documents at batch 32
    (63 requests), with max_concurrency=8 (the old default, over the limit) and the default: wall time
    vs the ideal ceil(requests / 5) x latency, requests refused. Target: <= 1.3x, <= 2 refused.
(b) TPM-bound: a TPM that makes the same job need 3 windows: tokens per minute achieved vs the TPM,
    failed documents, refusals per window. Target: >= 90 %, 0 failed, <= 1 refused per window.
(c) RPM-bound: the same with requests per minute.

"Achieved" is the work admitted in every window but the last (the job's tail), divided by the time
from the first window's opening to the last window's opening: a client that idles after a window
closes, or wastes budget, scores lower. The emulator runs in this process (its windows and refusals
are read directly); its 100 ms latency dwarfs the GIL contention.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina.client import DEFAULT_MAX_CONCURRENCY
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
from haystack_integrations.testing.jina import DEFAULT_API_KEY, JinaEmulator
from haystack_integrations.testing.jina.vectors import tokens

WORDS = "retrieval pipelines embed documents and queries into vectors so that similar texts are close".split()  # noqa: SIM905
LATENCY = 0.1
FREE_CONCURRENCY = 5


def make_documents(count: int) -> list[Document]:
    return [
        Document(content=" ".join(WORDS[(i + k) % len(WORDS)] for k in range(40)) + f" document {i}")
        for i in range(count)
    ]


@dataclass
class Outcome:
    wall: float
    failed: int
    in_order: bool
    windows: list[Any]
    refused: dict[str, int]

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def achieved(self, attribute: str) -> float:
        """Work per window-length admitted before the last window opened (see the module docstring)."""
        if len(self.windows) < 2:
            return float("nan")
        span = self.windows[-1].start - self.windows[0].start
        return sum(getattr(w, attribute) for w in self.windows[:-1]) / span

    def per_window(self) -> str:
        return ", ".join(
            f"w{i + 1}: {w.requests} req {w.tokens} tok {sum(w.refused.values())} refused"
            for i, w in enumerate(self.windows)
        )


@contextmanager
def policy(name: str) -> Iterator[None]:
    """Run with this package's pacing, or with the policy it replaced (see `legacy_policy`)."""
    if name == "current":
        yield
        return
    with legacy_policy():
        yield


@contextmanager
def legacy_policy() -> Iterator[None]:
    from haystack_integrations.common.jina import ratelimit

    with ratelimit.use_policy(ratelimit.LegacyPolicy):
        yield


def run_job(
    documents: list[Document], limits: dict[str, int] | str, *, window: float, retry_after: bool, max_concurrency: int
) -> Outcome:
    with JinaEmulator(limits=limits, latency=LATENCY, rate_window=window, retry_after=retry_after) as emulator:
        embedder = JinaDocumentEmbedder(
            api_key=Secret.from_env_var("JINA_API_KEY"),
            base_url=emulator.embeddings_url,
            batch_size=32,
            progress_bar=False,
            max_concurrency=max_concurrency,
            raise_on_failure=False,
        )
        start = time.perf_counter()
        result = embedder.run(documents)
        wall = time.perf_counter() - start
        out = result["documents"]
        in_order = [d.id for d in out] == [d.id for d in documents]
        failed = len(result["meta"]["failed_documents"])
        return Outcome(wall, failed, in_order, emulator.rate.windows(), emulator.rate.refused())


def scenario_concurrency(documents: list[Document], args: argparse.Namespace) -> Callable[[str], str]:
    requests = math.ceil(len(documents) / 32)
    ideal = math.ceil(requests / FREE_CONCURRENCY) * LATENCY

    def run(name: str) -> str:
        lines = []
        for max_concurrency in (8, DEFAULT_MAX_CONCURRENCY):
            with policy(name):
                o = run_job(
                    documents, "free", window=args.window, retry_after=args.retry_after, max_concurrency=max_concurrency
                )
            verdict = "OK" if o.wall <= 1.3 * ideal and o.refused_total <= 2 and not o.failed else "MISSED"
            lines.append(
                f"{name:8s} max_concurrency={max_concurrency}: wall {o.wall:5.2f} s = {o.wall / ideal:.2f}x ideal "
                f"{ideal:.1f} s, refused {o.refused_total}, failed docs {o.failed}, in order {o.in_order}  [{verdict}]"
            )
        return "\n  ".join(lines)

    return run


def scenario_windowed(documents: list[Document], args: argparse.Namespace, unit: str) -> Callable[[str], str]:
    requests = math.ceil(len(documents) / 32)
    total_tokens = sum(len(tokens(d.content or "")) for d in documents)
    # the job must need 3 windows: each window allows 2/5 of it
    if unit == "tokens":
        limit = math.ceil(total_tokens / 2.5)
        limits = {"tpm": limit, "concurrency": FREE_CONCURRENCY}
    else:
        limit = math.ceil(requests / 2.5)
        limits = {"rpm": limit, "concurrency": FREE_CONCURRENCY}

    def run(name: str) -> str:
        with policy(name):
            o = run_job(documents, limits, window=args.window, retry_after=args.retry_after, max_concurrency=5)
        rate = o.achieved(unit) if unit == "tokens" else o.achieved("requests")
        share = rate * args.window / limit
        refused_per_window = max((sum(w.refused.values()) for w in o.windows), default=0)
        ok = share >= 0.9 and not o.failed and refused_per_window <= 1
        return (
            f"{name:8s} {unit} per window achieved {rate * args.window:8.0f} of {limit} = {100 * share:5.1f} %, "
            f"failed docs {o.failed}, refused {o.refused_total} (max {refused_per_window} per window), "
            f"wall {o.wall:6.1f} s, in order {o.in_order}  [{'OK' if ok else 'MISSED'}]\n"
            f"         {o.per_window()}"
        )

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per rate-limit window (published: 60)")
    parser.add_argument("--no-retry-after", dest="retry_after", action="store_false", help="429s without Retry-After")
    parser.add_argument("--policy", choices=["both", "current", "legacy"], default="both")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these scenarios")
    args = parser.parse_args()
    os.environ["JINA_API_KEY"] = DEFAULT_API_KEY
    # the client assumes Jina's minute; with shortened emulator windows it is told the length
    os.environ["JINA_RATE_WINDOW"] = str(args.window)
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    logging.getLogger("haystack_integrations").setLevel(logging.ERROR)  # failed batches are counted, not logged
    documents = make_documents(args.docs)
    policies = ["legacy", "current"] if args.policy == "both" else [args.policy]

    window_note = "real one-minute windows" if args.window == 60 else f"SHORTENED {args.window:g} s windows"
    print(f"{args.docs} documents at batch 32, {LATENCY * 1000:.0f} ms latency, {window_note}, ", end="")
    print(f"429s {'with' if args.retry_after else 'without'} Retry-After", flush=True)
    scenarios = {
        "a": ("(a) concurrency-bound, Free tier (5 concurrent)", scenario_concurrency),
        "b": ("(b) TPM-bound (3 windows)", lambda d, a: scenario_windowed(d, a, "tokens")),
        "c": ("(c) RPM-bound (3 windows)", lambda d, a: scenario_windowed(d, a, "requests")),
    }
    for key in args.only or ["a", "b", "c"]:
        title, make = scenarios[key]
        print(title, flush=True)
        run = make(documents, args)
        for name in policies:
            print("  " + run(name), flush=True)


if __name__ == "__main__":
    main()
