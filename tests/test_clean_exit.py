"""A script that never calls `close()` exits without a word: no ResourceWarning, no "Exception ignored".

Each case runs as its own interpreter under `python -X dev -W error::ResourceWarning` (every
ResourceWarning an error, asyncio's debug checks on), as a user's script would, against an emulator in
that process: a component dropped in a function while the loop runs, one alive at exit, `run_async` from
`asyncio.run`, and `os.fork` with the parent's session in the pool, both processes embedding after it.
Nothing may be printed on stderr. Scripts that leave the loop stuck at exit (a task ignoring cancellation, a
session close that hangs, a busy loop) also exit within the exit's two waits, under `-W error`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

SETUP = """
import asyncio, gc, os, sys
from haystack import Document
from haystack.utils import Secret
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.testing.jina import JinaEmulator

emulator = JinaEmulator().start()
key = Secret.from_token("jina_emulator_key")
documents = [Document(content=f"document {i}") for i in range(8)]

def embedder():
    return JinaDocumentEmbedder(api_key=key, base_url=emulator.embeddings_url, batch_size=2, progress_bar=False)

def dropped_in_a_function():
    text = JinaTextEmbedder(api_key=key, base_url=emulator.embeddings_url)
    assert len(text.run("hello")["embedding"]) == 1024
"""

CASES = {
    "dropped_alive_at_exit_and_async": """
dropped_in_a_function()
gc.collect()
kept = embedder()
assert len(kept.run(documents)["documents"]) == 8

async def main():
    kept = embedder()
    assert len((await kept.run_async(documents))["documents"]) == 8
    await JinaTextEmbedder(api_key=key, base_url=emulator.embeddings_url).run_async("hello")
asyncio.run(main())
""",
    "fork_child_and_parent": """
kept = embedder()
assert len(kept.run(documents)["documents"]) == 8  # its keep-alive connections sit in the pool
pid = os.fork()
if pid == 0:
    gc.collect()
    dropped_in_a_function()
    assert len(kept.run(documents)["documents"]) == 8
    sys.exit(0)
assert len(kept.run(documents)["documents"]) == 8  # the parent's pool works while the child runs
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
assert len(kept.run(documents)["documents"]) == 8  # and after the child exited
""",
}

#: asyncio's debug mode (on under -X dev) logs callbacks slower than 0.1 s: load on the machine, not an exit.
SLOW_CALLBACK = re.compile(r"^Executing <.*> took [\d.]+ seconds$")


@pytest.mark.parametrize("case", list(CASES))
def test_a_script_that_never_closes_exits_silently(case: str) -> None:
    if case.startswith("fork") and not hasattr(os, "fork"):
        pytest.skip("os.fork is POSIX only")
    script = textwrap.dedent(SETUP) + textwrap.dedent(CASES[case])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HAYSTACK_TELEMETRY_ENABLED": "False"}
    command = [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", script]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    printed = [line for line in completed.stderr.splitlines() if not SLOW_CALLBACK.match(line)]
    assert completed.returncode == 0, completed.stderr
    assert printed == [], completed.stderr


# ----------------------------------------------------------------- an exit bounded in time, whatever the loop holds
STUCK_SETUP = """
import asyncio, threading, time
from haystack_integrations.common.jina import engine

class Owner:  # of a session
    pass

async def ignore_cancellation(seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            await asyncio.sleep(end - time.monotonic())
        except asyncio.CancelledError:
            pass

async def leave(coroutine):  # on the request loop, held by the loop alone
    asyncio.ensure_future(coroutine)
    await asyncio.sleep(0.05)  # it has started

class SlowToClose:  # a session whose close() outlasts the exit
    closed = False
    async def close(self):
        await ignore_cancellation()

def keep_the_loop_busy(seconds):  # a CPU-bound callback on the loop's thread
    busy = threading.Event()
    def spin():
        busy.set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    engine.loop().call_soon_threadsafe(spin)
    busy.wait()
"""

STUCK_CASES = {
    "a_task_that_ignores_cancellation": "engine.run_sync(leave(ignore_cancellation()))",
    "a_session_whose_close_hangs": """
owner = Owner()
async def register():
    engine.close_with(owner, SlowToClose())
engine.run_sync(register())
""",
    "a_loop_busy_past_the_first_wait": "keep_the_loop_busy(1.5 * engine.EXIT_SECONDS)",
    "a_loop_busy_past_both_waits": "engine.run_sync(leave(ignore_cancellation()))\nkeep_the_loop_busy(30.0)",
}

#: The exit waits twice at most (for the loop's work, then for its thread); the rest is the interpreter's own
#: teardown, up to 0.9 s beside two CPU-bound processes with the loop's thread spinning. The stuck work lasts 30 s.
EXIT_BOUND_MARGIN = 2.5


@pytest.mark.parametrize("case", list(STUCK_CASES))
def test_the_exit_is_bounded_and_silent_whatever_the_loop_holds(case: str) -> None:
    from haystack_integrations.common.jina.engine import EXIT_SECONDS

    script = textwrap.dedent(STUCK_SETUP) + textwrap.dedent(STUCK_CASES[case]) + "\nprint(time.monotonic())\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HAYSTACK_TELEMETRY_ENABLED": "False"}
    command = [sys.executable, "-X", "dev", "-W", "error", "-c", script]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    exited = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of the machine
    printed = [line for line in completed.stderr.splitlines() if not SLOW_CALLBACK.match(line)]
    assert completed.returncode == 0, completed.stderr
    assert printed == [], completed.stderr
    assert exited - float(completed.stdout) < 2 * EXIT_SECONDS + EXIT_BOUND_MARGIN
