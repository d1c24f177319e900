"""A script that never calls `close()` exits without a word: no ResourceWarning, no "Exception ignored".

Each case runs as its own interpreter under `python -X dev -W error::ResourceWarning` (every
ResourceWarning an error, asyncio's debug checks on), as a user's script would, against an emulator in
that process: a component dropped in a function while the loop runs, one alive at exit, `run_async` from
`asyncio.run`, and `os.fork` with the parent's session in the pool, both processes embedding after it.
Nothing may be printed on stderr.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

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
