"""One key, N processes: per-process and aggregate time against the ideal for the key's limit, refusals, failures.

    python benchmarks/bench_shared_key.py                                   # the grid below, a few minutes
    python benchmarks/bench_shared_key.py --processes 4 --tiers free --docs 2000
    python benchmarks/bench_shared_key.py --only tpm                        # the fixed-clock TPM case only
    PYTHONPATH=/other/tree/src python benchmarks/bench_shared_key.py        # another tree's client
    python benchmarks/bench_shared_key.py --host-sharing                    # with JINA_HOST_SHARING on

The grid: N in {1, 2, 4, 8} processes x Free / Tier 1 / Tier 2 x nothing stated / the tier stated
(`JINA_RATE_LIMITS`). A fast server of our own (`_fast_server.py --limits`, in its own process) enforces
the tier's concurrency on the one key every process sends (5, 50, 500; the emulator's `RateLimiter`, so
the same 429s), 100 ms per request. `_shared_key_jobs.py` forks the N processes, which start together,
each embedding its own documents with `JinaDocumentEmbedder` at its defaults, batch 32.

The ideal is the key's limit kept full: ceil(requests / concurrency) rounds of 100 ms. "after 1 s" counts
the refusals after the first second of the case: when processes start together none knows the others,
so the first round can be refused in part; what follows is what fairness is about.

The TPM case: 2 processes on a key with a TPM limit only, windows on a fixed clock (`--tpm-window`
seconds, not a minute, so it ends soon; `JINA_RATE_WINDOW` tells the clients), 429s without `Retry-After`,
nothing stated. Its pace is the tokens the key admitted per window against the budget, over every window
between the first and the last (those two are cut by the start and the end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _fast_server import fast_server_process, server_stats

from haystack_integrations.common.jina.ratelimit import TIERS

HERE = Path(__file__).resolve().parent
JOBS = HERE / "_shared_key_jobs.py"
LATENCY = 0.1
BATCH_SIZE = 32
KEY = "bench-shared-key"
DOCS = {"free": 500, "tier1": 2000, "tier2": 2000}  # per process, by default
TPM_BATCHES_PER_WINDOW = 12  # the TPM case's budget, in batches: small enough to bind, large enough to pace


def run_jobs(
    url: str, processes: int, docs: int, stated: str | None, window: float | None = None, *, sharing: bool = False
) -> list[dict[str, Any]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JINA_")}
    env.update({"JINA_API_KEY": KEY, "JINA_API_BASE_URL": url, "HAYSTACK_TELEMETRY_ENABLED": "False"})
    with tempfile.TemporaryDirectory() as directory:
        if sharing:  # same-host sharing, in a directory of this case's own
            env["JINA_HOST_SHARING"] = directory
        return _run_jobs(env, processes, docs, stated, window)


def _run_jobs(
    env: dict[str, str], processes: int, docs: int, stated: str | None, window: float | None
) -> list[dict[str, Any]]:
    if stated:
        env["JINA_RATE_LIMITS"] = stated
    if window:
        env["JINA_RATE_WINDOW"] = str(window)  # the client's idea of a window (a minute unless told)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(HERE)) if p)
    command = [sys.executable, str(JOBS), "--processes", str(processes), "--docs", str(docs)]
    command += ["--batch-size", str(BATCH_SIZE)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, check=False)
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    if not any("process" in line for line in lines):
        raise RuntimeError(f"the jobs did not run:\n{completed.stdout}\n{completed.stderr[-3000:]}")
    started = next(line["started"] for line in lines if "started" in line)
    outcomes = [line for line in lines if "process" in line]
    for outcome in outcomes:
        outcome["aggregate"] = outcome["finished"] - started
    return outcomes


def grid_case(url: str, tier: str, processes: int, docs: int, stated: bool, sharing: bool) -> dict[str, Any]:
    server_stats(url)  # reset
    outcomes = run_jobs(url, processes, docs, tier if stated else None, sharing=sharing)
    stats = server_stats(url)
    concurrency = TIERS[tier].concurrency or 1
    requests = processes * math.ceil(docs / BATCH_SIZE)
    ideal = math.ceil(requests / concurrency) * LATENCY
    aggregate = max(o["aggregate"] for o in outcomes)
    served = stats["requests"] - stats["refused"]
    return {
        "tier": tier,
        "N": processes,
        "stated": tier if stated else "-",
        "host sharing": "on" if sharing else "-",
        "docs/proc": docs,
        "per-process s": "/".join(f"{o['seconds']:.1f}" for o in sorted(outcomes, key=lambda o: o["process"])),
        "aggregate s": round(aggregate, 2),
        "ideal s": round(ideal, 2),
        "x ideal": round(aggregate / ideal, 2) if all(o["ok"] for o in outcomes) else "-",  # failed jobs end early
        "refused": stats["refused"],
        "after 1 s": stats["refused_after_first_second"],
        "% of served": round(100 * stats["refused_after_first_second"] / max(1, served), 1),
        "failed": sum(not o["ok"] for o in outcomes),
        "max in flight": stats["max_in_flight"],
        "errors": sorted({o["error"][:120] for o in outcomes if o["error"]}),
    }


def tpm_case(window: float, docs: int) -> dict[str, Any]:
    tokens_per_batch = sample_tokens_per_batch()
    tpm = TPM_BATCHES_PER_WINDOW * tokens_per_batch
    flags = ["--limits", f"tpm={tpm}", "--rate-clock", "fixed", "--no-retry-after", "--rate-window", str(window)]
    with fast_server_process(LATENCY, dimensions=64, limits=flags) as url:
        outcomes = run_jobs(url, 2, docs, None, window)
        stats = server_stats(url)
    windows = stats["windows"]  # only those a request reached: a window nobody sent in is missing
    # the first and the last window are cut by the start and the end; count the ones between, empty or not
    between = round((windows[-1]["start"] - windows[0]["start"]) / window) - 1 if len(windows) > 2 else 0
    tokens = sum(w["tokens"] for w in windows[1:-1])
    pace = tokens / (between * tpm) if between > 0 else float("nan")
    return {
        "case": "2 processes, TPM-bound, fixed clock, no Retry-After",
        "TPM per window": tpm,
        "window s": window,
        "windows": len(windows),
        "per-process s": "/".join(f"{o['seconds']:.1f}" for o in outcomes),
        "aggregate pace": f"{100 * pace:.0f}% of budget",
        "refused": stats["refused"],
        "failed": sum(not o["ok"] for o in outcomes),
    }


def sample_tokens_per_batch() -> int:
    """The tokens the fast server counts for one batch of the jobs' documents (characters / 4)."""
    sys.path.insert(0, str(HERE))
    from _shared_key_jobs import documents

    return sum(len(d.content or "") for d in documents(0, BATCH_SIZE)) // 4


def table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-|-".join("-" * widths[c] for c in columns))
    for row in rows:
        print(" | ".join(str(row[c]).ljust(widths[c]) for c in columns), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,2,4,8", help="comma-separated process counts")
    parser.add_argument("--tiers", default="free,tier1,tier2", help="comma-separated: free, tier1, tier2")
    parser.add_argument("--stated", default="no,yes", help="no (nothing stated), yes (JINA_RATE_LIMITS=<tier>)")
    parser.add_argument("--docs", type=int, help=f"documents per process (default by tier: {DOCS})")
    parser.add_argument("--only", choices=["grid", "tpm"], help="run only the grid or only the TPM case")
    parser.add_argument("--tpm-window", type=float, default=2.0, help="seconds per window in the TPM case")
    parser.add_argument("--tpm-docs", type=int, default=1500, help="documents per process in the TPM case")
    parser.add_argument("--host-sharing", action="store_true", help="the grid with JINA_HOST_SHARING on")
    args = parser.parse_args()

    if args.only != "tpm":
        rows = []
        for tier in args.tiers.split(","):
            flags = ["--limits", f"concurrency={TIERS[tier].concurrency}"]
            with fast_server_process(LATENCY, dimensions=64, limits=flags) as url:
                for processes in (int(n) for n in args.processes.split(",")):
                    for stated in args.stated.split(","):
                        docs = args.docs or DOCS[tier]
                        rows.append(grid_case(url, tier, processes, docs, stated == "yes", args.host_sharing))
                        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # progress
        print(f"\nOne key, N processes: the key's concurrency enforced, {LATENCY * 1000:.0f} ms per request\n")
        table([{k: v for k, v in row.items() if k != "errors"} for row in rows])
        for row in rows:
            for error in row["errors"]:
                print(f"  {row['tier']} N={row['N']} stated={row['stated']}: {error}")
    if args.only != "grid":
        print()
        table([tpm_case(args.tpm_window, args.tpm_docs)])


if __name__ == "__main__":
    main()
