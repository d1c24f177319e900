"""Memory of answers in flight (issue 28, item 8): peak and after-run RSS of a client process.

Two runs, each in a fresh client process, against a local server in a process of its own:
- `large`: 16 answers of 200 MB at once (each under the client's 256 MB cap);
- `bombs`: 4 gzip bombs at once (400 MB of zeros each, about 0.4 MB on the wire), which are refused.

Prints the client's RSS before, at its peak and after the run (after `gc.collect()`), in MB.

    python benchmarks/bench_answer_memory.py [--answers 16] [--size-mb 200] [--bombs 4] [--bomb-mb 400]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

MB = 1024 * 1024


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- server (its own process)
def serve(kind: str, size_mb: int) -> None:
    if kind == "large":
        # random-looking text: the answer does not compress, and is sent as it is
        pad = (os.urandom(size_mb * MB // 2).hex()).encode()
        payload = b'{"data": [], "pad": "' + pad + b'"}'
        extra = b""
    else:
        payload = gzip.compress(b'{"data": [], "pad": "' + b"0" * (size_mb * MB) + b'"}', compresslevel=6)
        extra = b"Content-Encoding: gzip\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n" % (
        len(payload),
        extra,
    )
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    print(listener.getsockname()[1], flush=True)

    def one(conn: socket.socket) -> None:
        with conn:
            try:
                while True:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    header, _, body = data.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in header.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        0,
                    )
                    while len(body) < length:
                        body += conn.recv(65536)
                    conn.sendall(head)
                    conn.sendall(payload)
            except OSError:
                return

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


# ---------------------------------------------------------------- client (its own process)
def client(url: str, calls: int) -> None:
    from haystack.utils import Secret

    from haystack_integrations.common.jina.client import JinaClient
    from haystack_integrations.common.jina.errors import JinaError

    jina = JinaClient(Secret.from_token("bench-key-0123456789abcdef"), max_retries=0, timeout=600)
    jina.open()
    gc.collect()
    before = rss_mb()
    outcomes: list[str] = []

    def call(_: int) -> None:
        try:
            answer = jina.post_json(url, {"input": ["x"]})
            outcomes.append("ok" if answer.get("data") == [] else "odd")
        except JinaError as error:
            outcomes.append(type(error).__name__)

    started = time.perf_counter()
    with ThreadPoolExecutor(calls) as pool:
        list(pool.map(call, range(calls)))
    elapsed = time.perf_counter() - started
    jina.close()
    time.sleep(0.5)
    gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    after = rss_mb()
    summary = {name: outcomes.count(name) for name in sorted(set(outcomes))}
    print(json.dumps({"before": before, "peak": peak, "after": after, "seconds": elapsed, "outcomes": summary}))


def run(kind: str, size_mb: int, calls: int) -> dict[str, object]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--size-mb", str(size_mb)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/v1/embeddings"
        done = subprocess.run(
            [sys.executable, __file__, "--client", url, "--calls", str(calls)],
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=16)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--bomb-mb", type=int, default=400)
    parser.add_argument("--serve", choices=["large", "bomb"])
    parser.add_argument("--client")
    parser.add_argument("--calls", type=int, default=1)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.size_mb)
        return
    if args.client:
        client(args.client, args.calls)
        return
    for label, kind, size, calls in (
        (f"{args.answers} answers of {args.size_mb} MB at once", "large", args.size_mb, args.answers),
        (f"{args.bombs} gzip bombs of {args.bomb_mb} MB at once", "bomb", args.bomb_mb, args.bombs),
    ):
        figures = run(kind, size, calls)
        print(
            f"{label}: RSS before {figures['before']:.0f} MB, peak {figures['peak']:.0f} MB "
            f"(+{float(figures['peak']) - float(figures['before']):.0f}), after {figures['after']:.0f} MB; "
            f"{figures['seconds']:.1f} s; outcomes {figures['outcomes']}"
        )


if __name__ == "__main__":
    main()
