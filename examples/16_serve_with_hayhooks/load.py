"""Serve `pipelines/` with Hayhooks against the emulator CLI and fire concurrent requests at it.

    python examples/16_serve_with_hayhooks/load.py --workers 4 --requests 200 --limits free

Starts the emulator CLI (`python -m haystack_integrations.testing.jina`) enforcing the key's limits
(`--limits`, 50 ms a request), then `hayhooks run --workers N` with the emulator's exports in its
environment, waits until every worker has run `setup()`, sends `--requests` queries at once to
`POST /jina_search/run` and prints one JSON line: errors (non-200 answers, with the first few bodies),
p50 / p99 latency and throughput. Exits 1 when any request failed. Needs hayhooks and aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from haystack_integrations.testing.jina.__main__ import emulator_process

HERE = Path(__file__).resolve().parent
ROUTE = "/jina_search/run"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def hayhooks(workers: int, env: dict[str, str], log: Path) -> Iterator[str]:
    binary = shutil.which("hayhooks", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if binary is None:
        raise RuntimeError("hayhooks is not installed: pip install hayhooks (the examples environment has it)")
    port = free_port()
    command = [binary, "run", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--pipelines-dir", str(HERE / "pipelines")]
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_ready(url: str, workers: int, deadline: float) -> None:
    """Until `workers` answers in a row came from the pipeline (a worker answers only after its setup)."""
    import aiohttp

    in_a_row = 0
    async with aiohttp.ClientSession() as session:
        while in_a_row < 2 * workers:
            if time.monotonic() > deadline:
                raise TimeoutError("hayhooks did not serve the pipeline in time (see its log)")
            try:
                async with session.post(url + ROUTE, json={"query": "warm"}) as answer:
                    in_a_row = in_a_row + 1 if answer.status == 200 else 0
            except aiohttp.ClientError:
                in_a_row = 0
            if in_a_row == 0:
                await asyncio.sleep(0.5)


async def fire(url: str, count: int) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            started = time.perf_counter()
            try:
                async with session.post(url + ROUTE, json={"query": f"what about bees {i}?"}) as answer:
                    body = await answer.text()
                    if answer.status != 200:
                        failures.append(f"{answer.status}: {body[:200]}")
            except aiohttp.ClientError as error:
                failures.append(f"{type(error).__name__}: {error}")
            latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": count,
        "errors": len(failures),
        "p50_s": round(latencies[len(latencies) // 2], 3),
        "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3),
        "throughput_per_s": round(count / wall, 1),
        "first_errors": sorted(set(failures))[:3],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="sent at once")
    parser.add_argument("--limits", default="free", help="the key's limits the emulator enforces")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request at the emulator")
    parser.add_argument("--stated", help="JINA_RATE_LIMITS for the workers (default: nothing stated)")
    parser.add_argument("--log", default=os.devnull, help="where hayhooks' output goes")
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds for every worker's setup()")
    args = parser.parse_args(argv)

    with emulator_process("--quiet", "--limits", args.limits, "--latency", str(args.latency)) as exports:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JINA_")}
        env.update(exports)
        env.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
        if args.stated:
            env["JINA_RATE_LIMITS"] = args.stated
        with hayhooks(args.workers, env, Path(args.log)) as url:
            asyncio.run(wait_ready(url, args.workers, time.monotonic() + args.start_timeout))
            outcome = asyncio.run(fire(url, args.requests))
    print(json.dumps({"workers": args.workers, **outcome}), flush=True)
    return 1 if outcome["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
