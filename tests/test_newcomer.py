"""A newcomer's friction (issue 28, items 9 to 15): errors that name what they are about, no silent wrong results."""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from haystack import Document
from haystack.dataclasses import ByteStream
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaInputError
from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaSparseTextEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import JinaEmulator


def converter(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaReaderConverter:
    return JinaReaderConverter(api_key=api_key, base_url=emulator.reader_url, **kwargs)


# ---------------------------------------------------------------------------------------------- 9. the converter
def test_a_service_side_rejection_names_the_source(emulator: JinaEmulator, api_key: Secret) -> None:
    docx = ByteStream(b"PK\x03\x04 a docx", meta={"file_path": "plan.docx"})
    result = converter(emulator, api_key, raise_on_failure=False).run(sources=[docx])
    (failure,) = result["meta"]["failed_sources"]
    assert failure["error"].startswith("JinaBadRequestError: Source 0 (plan.docx): Jina API rejected the request")
    assert failure["status"] == 422
    with pytest.raises(JinaBadRequestError, match=r"^Source 0 \(plan\.docx\): .*HTTP 422") as raised:
        converter(emulator, api_key).run(sources=[docx])
    assert raised.value.status_code == 422 and raised.value.endpoint  # the error's attributes are kept


def test_an_empty_file_is_refused_before_sending(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(JinaInputError, match=r"^Source 0 \(.*empty\.pdf\) is empty \(0 bytes\); not sent$"):
        converter(emulator, api_key).run(sources=[empty])
    result = converter(emulator, api_key, raise_on_failure=False).run(sources=[ByteStream(b"", mime_type="text/html")])
    (failure,) = result["meta"]["failed_sources"]
    assert failure["error"] == "JinaInputError: Source 0 (ByteStream 0) is empty (0 bytes); not sent"
    assert emulator.requests == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_and_a_directory_are_named_for_what_they_are(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # never opened: that would block until a writer came
    result = converter(emulator, api_key, raise_on_failure=False).run(sources=[fifo, tmp_path])
    assert [failure["error"] for failure in result["meta"]["failed_sources"]] == [
        f"JinaInputError: Source 0 ({fifo}) is a named pipe (FIFO), not a regular file; not sent",
        f"JinaInputError: Source 1 ({tmp_path}) is a directory, not a regular file; not sent",
    ]
    assert emulator.requests == []


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_proc_file_is_named_a_virtual_file(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(JinaInputError, match=r"^Source 0 \(/proc/self/status\) is a virtual file") as raised:
        converter(emulator, api_key).run(sources=["/proc/self/status"])
    assert "grew" not in str(raised.value) and "copy it to a regular file" in str(raised.value)
    assert emulator.requests == []


# ---------------------------------------------------------------------------------------------- 10. silent results
def test_a_text_only_ranker_warns_once_per_run_about_image_only_documents(
    emulator: JinaEmulator, api_key: Secret, caplog: pytest.LogCaptureFixture
) -> None:
    documents = [
        Document(content="Paris is in France"),
        Document(meta={"file_path": "cat.png"}),
        Document(content=" ", blob=ByteStream(b"\x89PNG\r\n\x1a\n", mime_type="image/png")),
        Document(meta={"file_path": "notes.txt", "title": "Paris"}),  # ranked by its title: no warning for it
    ]
    ranker = JinaRanker(
        api_key=api_key,
        base_url=emulator.rerank_url,
        model="jina-reranker-v2-base-multilingual",
        meta_fields_to_embed=["title"],
    )
    with caplog.at_level(logging.WARNING):
        result = ranker.run(query="Paris", documents=documents)
    assert len(result["documents"]) == 4  # still ranked, as before
    (warning,) = [r for r in caplog.records if "ranks text only" in r.getMessage()]
    message = warning.getMessage()
    assert "2 of 4 documents" in message and documents[1].id in message and "'jina-reranker-m0'" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        ranker.run(query="Paris", documents=documents[:1])
    assert "ranks text only" not in caplog.text


@pytest.mark.parametrize("embedder", [JinaTextEmbedder, JinaSparseTextEmbedder])
@pytest.mark.parametrize("text", ["", "  \n"])
def test_an_empty_text_is_refused_locally(emulator: JinaEmulator, api_key: Secret, embedder: Any, text: str) -> None:
    component = embedder(api_key=api_key, base_url=emulator.embeddings_url)
    with pytest.raises(JinaInputError, match=f"{embedder.__name__} got an empty text"):
        component.run(text)
    assert emulator.requests == []


# ---------------------------------------------------------------------------------------------- 11. model names
@pytest.mark.parametrize(
    ("build", "hugging_face_id", "api_name"),
    [
        (JinaTextEmbedder, "jinaai/jina-embeddings-v3", "jina-embeddings-v3"),
        (JinaTextEmbedder, "jinaai/jina-embeddings-v2-base-en", "jina-embeddings-v2-base-en"),
        (JinaRanker, "jinaai/jina-reranker-m0", "jina-reranker-m0"),
    ],
)
def test_a_hugging_face_id_gets_the_api_name(api_key: Secret, build: Any, hugging_face_id: str, api_name: str) -> None:
    with pytest.raises(ValueError, match=f"{hugging_face_id}'?: did you mean '{api_name}'"):
        build(api_key=api_key, model=hugging_face_id)


@pytest.mark.parametrize(
    ("build", "model"),
    [
        (JinaTextEmbedder, "jina-embeddings-v2-base-fr"),
        (JinaTextEmbedder, "jina-embeddings-v2-base-it"),
        (JinaRanker, "jina-reranker-v1-base-fr"),
    ],
)
def test_another_language_is_never_suggested(
    api_key: Secret, build: Any, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        component = build(api_key=api_key, model=model)  # a language Jina may add: sent as given
    assert component.to_dict()["init_parameters"]["model"] == model
    assert "did you mean" not in caplog.text


# ---------------------------------------------------------------------------------------------- 12. dev.py test
def load_dev_py() -> Any:
    spec = importlib.util.spec_from_file_location("dev_py", Path(__file__).resolve().parents[1] / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: A stand-in for a pytest run: results in pieces (a file's dots, then its percentage), then a summary.
FAKE_PYTEST = """
import sys, time
for step in range(1, 5):
    sys.stdout.write(f"tests/test_{step}.py ..")
    sys.stdout.flush()
    time.sleep(0.15)
    sys.stdout.write(f".. [{step * 25:3d}%]\\n")
    sys.stdout.flush()
    time.sleep(0.15)
print("=== 16 passed in 1.2s ===")
sys.exit(int(sys.argv[1]))
"""


def test_dev_py_shows_each_lines_progress_while_they_run(tmp_path: Path) -> None:
    dev = load_dev_py()
    out = io.StringIO()
    commands = {name: [sys.executable, "-c", FAKE_PYTEST, code] for name, code in (("test.a", "0"), ("test.b", "1"))}
    failed = dev.run_lines(commands, cwd=tmp_path, out=out, interval=0.0)
    assert failed == ["test.b"]
    text = out.getvalue()
    first_block = text.index("=" * 30)
    progress = [line for line in text[:first_block].splitlines() if line]
    assert progress, "nothing shown before the first line finished"
    assert all(re.fullmatch(r"dev\.py: +\d+ s: test\.a (starting|\d+%), test\.b (starting|\d+%)", p) for p in progress)
    assert any("25%" in line or "50%" in line for line in progress)
    # each line's output comes whole, once, after its progress lines
    for name in commands:
        block = f"{'=' * 30} {name} {'=' * 30}\n" + "".join(
            f"tests/test_{step}.py .... [{step * 25:3d}%]\n" for step in range(1, 5)
        )
        assert text.count(block) == 1
    assert "dev.py: test.b finished after" in text and "16 passed in 1.2s" in text


def test_dev_py_progress_reads_a_percentage_split_across_reads() -> None:
    progress = load_dev_py().Progress(["test.3"])
    assert progress.read("test.3", b"tests/test_x.py ..... [ 4") is False
    assert progress.read("test.3", b"2%]\ntests/test_y.py ...") is False  # half a marker is no progress
    assert progress.read("test.3", b" [ 57%]\n") is True
    assert progress.read("test.3", b"...") is False
    assert progress.line(12.0) == "  12 s: test.3 57%"


# ---------------------------------------------------------------------------------------------- 13. no litter
def test_a_passing_run_leaves_nothing_in_the_system_temp_folder(tmp_path: Path) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TMPDIR": str(system_tmp), "PYTHONPATH": str(root / "src")}
    # the README's blocks make folders with `tempfile.mkdtemp()`, and the test that runs them uses tmp_path
    test = "tests/test_readme.py::test_readme_python_blocks_run"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    left = sorted(str(path.relative_to(system_tmp)) for path in system_tmp.rglob("*") if not path.is_dir())
    folders = sorted(path.name for path in system_tmp.iterdir() if not path.name.startswith("pytest-of-"))
    assert (left, folders) == ([], [])


# ---------------------------------------------------------------------------------------------- 14. the emulator
def test_a_client_that_drops_its_connection_is_logged_at_debug_not_printed(
    emulator: JinaEmulator, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    address = urlsplit(emulator.embeddings_url)
    with caplog.at_level(logging.DEBUG, logger="haystack_integrations.testing.jina.server"):
        client = socket.create_connection((address.hostname, address.port))
        client.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        time.sleep(0.2)  # the emulator is now reading the body
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # with linger 0: a reset, as a killed client sends
        deadline = time.monotonic() + 10
        while "dropped its connection" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    (record,) = [r for r in caplog.records if "dropped its connection" in r.getMessage()]
    assert record.levelno == logging.DEBUG and "ConnectionResetError" in record.getMessage()
    assert "Traceback" not in capfd.readouterr().err


# ---------------------------------------------------------------------------------------------- 15. README claims
def test_the_differences_table_says_how_many_batches_are_in_flight(emulator: JinaEmulator, api_key: Secret) -> None:
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert "up to `max_concurrency` (5) at once" not in readme  # a default run is not held to 5
    assert "at most `max_concurrency` when you set it; by default (`None`) as many as the key allows" in readme
    assert "else from 5 growing while the server accepts more" in readme
    emulator.latency = 0.3  # a round's requests overlap at the emulator, even on a loaded machine
    documents = [Document(content=f"document {i}") for i in range(60)]
    embedder = JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, batch_size=1)
    assert embedder.max_concurrency is None
    embedder.run(documents)
    assert emulator.max_in_flight > 5  # the default grew past the Free tier's 5
    emulator.reset()
    stated = JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, batch_size=1, max_concurrency=5)
    stated.run(documents[:30])
    assert emulator.max_in_flight <= 5
