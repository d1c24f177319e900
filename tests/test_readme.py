"""Every Python block of the README runs, in order, in one namespace — so the README cannot rot.

Blocks that start with `# live:` need a real key and the internet: they are compiled, never run.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


LIVE = "# live:"
VARIABLES = ("JINA_API_KEY", "JINA_API_BASE_URL", "JINA_READER_BASE_URL", "JINA_SEARCH_BASE_URL")


def all_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def python_blocks() -> list[str]:
    return [block for block in all_python_blocks() if not block.startswith(LIVE)]


def test_live_blocks_compile_and_use_no_emulator_and_no_base_url() -> None:
    live = [block for block in all_python_blocks() if block.startswith(LIVE)]
    assert live, "the README shows real use with a key"
    for block in live:
        compile(block, "README.md live block", "exec")
        assert "base_url" not in block and "Emulator" not in block


def test_readme_has_examples_for_every_component() -> None:
    text = "".join(python_blocks())
    for name in ("JinaTextEmbedder", "JinaDocumentEmbedder", "JinaDocumentImageEmbedder", "JinaRanker"):
        assert name in text
    for name in ("JinaSparseTextEmbedder", "JinaSparseDocumentEmbedder"):
        assert name in text
    assert "JinaReaderConnector" in text
    assert "JinaWebSearch" in text and "JinaReaderFetcher" in text
    assert "JinaDocumentClassifier" in text and "JinaTextRouter" in text and "train_classifier" in text
    assert "JinaReaderConverter" in text


def test_readme_python_blocks_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in VARIABLES:  # the README sets them; monkeypatch restores them afterwards
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the blocks' `mkdtemp()` folders go with tmp_path
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


EMULATOR_ONLY = "# emulator only"


def test_with_a_real_key_only_marked_blocks_need_the_emulator_object() -> None:
    # The README promises: skip the first block and the `# emulator only` ones, and the rest runs with a real key.
    first, *rest = python_blocks()
    assert "jina = JinaEmulator(" in first
    assert f"`{EMULATOR_ONLY}`" in README.read_text(encoding="utf-8")
    for block in rest:
        uses_emulator_object = re.search(r"(?<![\w.])jina\.", block) is not None
        assert uses_emulator_object == block.startswith(EMULATOR_ONLY), block


def test_rate_limit_advice_names_only_parameters_each_component_has() -> None:
    import inspect

    from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
    from haystack_integrations.components.connectors.jina import JinaReaderConnector
    from haystack_integrations.components.converters.jina import JinaReaderConverter
    from haystack_integrations.components.embedders.jina import (
        JinaDocumentEmbedder,
        JinaDocumentImageEmbedder,
        JinaSparseDocumentEmbedder,
        JinaSparseTextEmbedder,
        JinaTextEmbedder,
    )
    from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
    from haystack_integrations.components.rankers.jina import JinaRanker
    from haystack_integrations.components.routers.jina import JinaTextRouter
    from haystack_integrations.components.websearch.jina import JinaWebSearch

    components = [
        JinaTextEmbedder,
        JinaDocumentEmbedder,
        JinaDocumentImageEmbedder,
        JinaSparseTextEmbedder,
        JinaSparseDocumentEmbedder,
        JinaRanker,
        JinaReaderConnector,
        JinaReaderFetcher,
        JinaReaderConverter,
        JinaWebSearch,
        JinaDocumentClassifier,
        JinaTextRouter,
    ]
    parameters = {c.__name__: set(inspect.signature(c.__init__).parameters) for c in components}
    every_parameter = set().union(*parameters.values())
    (row,) = [
        line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `JinaRateLimitError`")
    ]
    advised = set()
    for clause in row.split(";"):
        names = re.findall(r"`(\w+)`", clause)
        named_components = [name for name in names if name in parameters]
        advised.update(named_components)
        for name in names:
            if name in every_parameter and name != "max_retries":  # max_retries: every component has it
                assert all(name in parameters[c] for c in named_components) and named_components, (name, clause)
    assert advised == set(parameters)
    assert "run fewer" not in row  # no component lacks a setting for it
    assert "JINA_RATE_LIMITS" in row
