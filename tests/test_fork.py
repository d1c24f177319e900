"""A component inherited by os.fork (multiprocessing's default on Linux, gunicorn workers) works in both processes.

The parent forks while its keep-alive connections sit in the pool and while requests are in flight; then
parent and child embed at the same time and every vector is checked against one from a fresh component
(the emulator's vectors are deterministic). Without the fork hooks the two processes share sockets and
read each other's answers, and the child's concurrency counter, full of the parent's requests, hangs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from haystack import Document
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaDocumentImageEmbedder
from haystack_integrations.testing.jina import JinaEmulator

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded"),  # Python 3.12+ warns; we mean it
]

DOCS = [Document(content=f"document {i}: {' '.join(f'w{i * 7 + j}' for j in range(6))}") for i in range(96)]
CHILD_DEADLINE = 60  # seconds; a hung child is killed by SIGALRM and fails the test


def embedder(emulator: JinaEmulator) -> JinaDocumentEmbedder:
    return JinaDocumentEmbedder(base_url=emulator.embeddings_url, batch_size=4, max_concurrency=4, progress_bar=False)


def image_embedder(emulator: JinaEmulator, folder: Path) -> JinaDocumentImageEmbedder:
    return JinaDocumentImageEmbedder(base_url=emulator.embeddings_url, root_path=str(folder), progress_bar=False)


def image_docs(folder: Path) -> list[Document]:
    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    for colour in colours:
        Image.new("RGB", (40, 30), colour).save(folder / f"{colour}.png")
    return [Document(content=colour, meta={"file_path": f"{colour}.png"}) for colour in colours]


def mismatches(result: dict[str, object], expected: list[list[float]]) -> int:
    documents = result["documents"]
    assert isinstance(documents, list)
    return sum(document.embedding != vector for document, vector in zip(documents, expected, strict=True))


def test_parent_and_child_each_get_their_own_vectors_after_a_fork(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    images = image_docs(tmp_path)
    expected = [d.embedding for d in embedder(emulator).run(DOCS)["documents"]]
    expected_images = [d.embedding for d in image_embedder(emulator, tmp_path).run(images)["documents"]]
    assert len({tuple(v) for v in expected}) == len(DOCS)  # every document has a vector of its own

    shared = embedder(emulator)
    shared_images = image_embedder(emulator, tmp_path)
    assert mismatches(shared.run(DOCS), expected) == 0  # keep-alive connections now sit in the pool
    assert mismatches(shared_images.run(images), expected_images) == 0  # the decode pool has threads
    assert mismatches(asyncio.run(shared.run_async(DOCS)), expected) == 0  # so has the run_async pool

    # Requests in flight at the moment of the fork: their threads and slots exist only in the parent.
    emulator.latency = 0.05
    in_flight_errors: list[int] = []
    background = threading.Thread(target=lambda: in_flight_errors.append(mismatches(shared.run(DOCS), expected)))
    background.start()
    deadline, seen = time.monotonic() + 10, 0
    while seen < 2 and time.monotonic() < deadline:
        time.sleep(0.002)
        seen = emulator.in_flight
    assert seen >= 2

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report "<vector mismatches> <image mismatches>", or die trying
        os.close(read_end)
        signal.alarm(CHILD_DEADLINE)
        code = 1
        try:
            wrong = sum(mismatches(shared.run(DOCS), expected) for _ in range(3))
            wrong += mismatches(asyncio.run(shared.run_async(DOCS)), expected)
            wrong_images = mismatches(shared_images.run(images), expected_images)
            os.write(write_end, f"{wrong} {wrong_images}".encode())
            code = 0
        except BaseException as error:  # anything, even SystemExit, must reach the parent
            os.write(write_end, f"error {error!r}".encode())
        finally:
            os._exit(code)

    os.close(write_end)
    try:
        parent_wrong = sum(mismatches(shared.run(DOCS), expected) for _ in range(3))
        parent_wrong_images = mismatches(shared_images.run(images), expected_images)
        background.join(timeout=30)
    finally:
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_end) as pipe:
            report = pipe.read()
        emulator.latency = 0.0

    assert os.WIFEXITED(status), f"the child did not finish (signal {os.WTERMSIG(status)}): {report!r}"
    assert os.WEXITSTATUS(status) == 0, report
    assert report == "0 0", f"child: vector and image mismatches {report!r}"
    assert (parent_wrong, parent_wrong_images, in_flight_errors) == (0, 0, [0])


def test_a_child_forked_while_the_request_loop_is_busy_starts_its_own(emulator: JinaEmulator, api_key: Secret) -> None:
    from haystack_integrations.common.jina import engine

    component = embedder(emulator)
    assert component.run(DOCS[:4])["documents"][0].embedding is not None  # the parent's request loop runs
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with engine._start_lock:  # another thread starting the loop at the moment of the fork
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(5)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        signal.alarm(20)  # without the fork hook the child blocks forever on the inherited lock
        code = 1
        try:
            result = component.run(DOCS[:4])
            os.write(write_end, str(sum(d.embedding is None for d in result["documents"])).encode())
            code = 0
        except BaseException as error:
            os.write(write_end, f"error {error!r}".encode())
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_end) as pipe:
            report = pipe.read()
    finally:
        release.set()
        holder.join(10)
    assert os.WIFEXITED(status), f"the child hung (signal {os.WTERMSIG(status)})"
    assert (os.WEXITSTATUS(status), report) == (0, "0")
