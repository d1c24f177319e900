"""Run the JinaEmulator, a local test double of the Jina API, for your own pipelines and integration tests.

It prints the `export` lines that point unmodified components (and YAML pipelines) at it:
the key, JINA_API_BASE_URL, JINA_READER_BASE_URL and JINA_SEARCH_BASE_URL. Then it logs one line per
request on stderr (time, method, path, status, milliseconds to answer) unless --quiet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, TextIO

from haystack_integrations.testing.jina.server import (
    DEFAULT_API_KEY,
    ENDPOINTS,
    JinaEmulator,
    RecordedRequest,
    Reply,
)

#: Longer paths (a reader target, a search query) are cut in the log line.
LOGGED_PATH_LENGTH = 100


def _epilog() -> str:
    lines = ["endpoints (GET / lists them too):"]
    lines += [f"  {method:<4} {path:<16} {what} (like {hosted})" for path, method, what, hosted in ENDPOINTS]
    lines += [
        "",
        "example:",
        "  python -m haystack_integrations.testing.jina --port 8080 --corpus corpus.json",
        "  then paste the printed export lines into the shell that runs your pipeline",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m haystack_integrations.testing.jina",
        description=__doc__,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="key clients must send; '' accepts any key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds from a request's arrival to its answer")
    parser.add_argument("--max-recorded", type=int, default=100, help="requests kept in memory (the newest)")
    parser.add_argument("--corpus", help="JSON file: a list of {url, title, content} for search and ground")
    parser.add_argument(
        "--limits",
        help="rate limits to enforce per key: free, tier1, tier2 (Jina's published tiers) or rpm=N,tpm=N,concurrency=N;"
        " a key's limits hold across every process that sends it, as Jina's do",
    )
    parser.add_argument("--no-retry-after", action="store_true", help="send 429s for RPM/TPM without Retry-After")
    parser.add_argument(
        "--rate-window",
        type=float,
        default=60.0,
        help="seconds per rate-limit window (published: 60; shorter for tests)",
    )
    parser.add_argument(
        "--rate-clock",
        choices=["first-request", "fixed"],
        default="first-request",
        help="where rate-limit windows sit: opened by the first request after the last closed, or on a fixed clock",
    )
    parser.add_argument(
        "--batch-delay",
        type=float,
        default=0.0,
        help="seconds a Batch API job takes from submission to completed",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request on stderr")
    args = parser.parse_args(argv)

    corpus = None
    if args.corpus:
        with open(args.corpus, encoding="utf-8") as handle:
            corpus = json.load(handle)
    try:
        emulator = JinaEmulator(
            args.api_key or None,
            latency=args.latency,
            corpus=corpus,
            host=args.host,
            port=args.port,
            max_recorded=args.max_recorded,
            limits=args.limits,
            retry_after=not args.no_retry_after,
            rate_window=args.rate_window,
            rate_clock=args.rate_clock,
            batch_delay=args.batch_delay,
        )
    except OSError as error:  # most often: the port is taken
        reason = error.strerror or str(error)
        print(f"jina emulator: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    if not args.quiet:
        log_requests(emulator, sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emulator:
        print(f"JinaEmulator (a test double, not the Jina API) listening on {emulator.url}", flush=True)
        print("# point components at it (base_url left at its default) by pasting:")
        for name, value in emulator.environment().items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"# the grounding endpoint has no variable: base_url={emulator.ground_url!r}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


@contextlib.contextmanager
def emulator_process(*arguments: str, env: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """
    Run this command as its own process (e.g. `"--limits", "free"`), for several client processes on one key.

    Yields the variables it printed (`JINA_API_KEY`, `JINA_API_BASE_URL`, ...) for the clients' environment;
    terminates it on exit. `env` is the emulator process's environment (default: this one's).
    """
    command = [sys.executable, "-m", "haystack_integrations.testing.jina", "--port", "0", *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        yield read_exports(process.stdout)
    finally:
        process.terminate()
        process.wait(timeout=10)


def read_exports(stream: IO[str]) -> dict[str, str]:
    """
    The variables this command prints on start (`export NAME=value` lines), read from its standard output.

    :raises RuntimeError: If the stream ends before all of them were printed (the emulator did not start).
    """
    exports: dict[str, str] = {}
    while True:
        line = stream.readline()
        if not line:
            msg = "the emulator exited before printing its export lines"
            raise RuntimeError(msg)
        if line.startswith("export "):
            name, value = line[len("export ") :].strip().split("=", 1)
            exports[name] = shlex.split(value)[0] if value else ""
        elif exports:  # the line after the last export (the grounding endpoint's note)
            return exports


def log_requests(emulator: JinaEmulator, stream: TextIO) -> None:
    """Write one line per answered request to `stream`: time, method, path, status (or "dropped"), milliseconds."""
    answer = emulator.handle

    def handle(request: RecordedRequest) -> Reply | None:
        started = time.monotonic()
        reply = answer(request)
        elapsed = (time.monotonic() - started) * 1000
        path = request.path if len(request.path) <= LOGGED_PATH_LENGTH else request.path[:LOGGED_PATH_LENGTH] + "..."
        status = "dropped" if reply is None else str(reply.status)
        clock = time.strftime("%H:%M:%S")
        print(f"{clock} {request.method} {path} {status} {elapsed:.1f} ms", file=stream, flush=True)
        return reply

    emulator.handle = handle  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main())
