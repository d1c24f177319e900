"""A newcomer's friction (issue 28, items 9 to 15): errors that name what they are about, no silent wrong results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from haystack.dataclasses import ByteStream
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaInputError
from haystack_integrations.components.converters.jina import JinaReaderConverter
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
