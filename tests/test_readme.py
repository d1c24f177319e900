"""Every Python block of the README runs, in order, in one namespace — so the README cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples_for_every_component() -> None:
    text = "".join(python_blocks())
    for name in ("JinaTextEmbedder", "JinaDocumentEmbedder", "JinaDocumentImageEmbedder", "JinaRanker"):
        assert name in text
    assert "JinaReaderConnector" in text
    assert "JinaWebSearch" in text and "JinaReaderFetcher" in text


def test_readme_python_blocks_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    blocks = python_blocks()
    try:
        for number, block in enumerate(blocks, start=1):
            try:
                exec(compile(block, f"README.md block {number}", "exec"), namespace)
            except Exception as error:
                pytest.fail(f"README python block {number} failed: {error!r}\n{block}")
    finally:
        emulator = namespace.get("jina")
        stop = getattr(emulator, "stop", None)
        if callable(stop) and getattr(emulator, "_thread", None) is not None:
            stop()
