"""The README's claims in prose, each quoted and then checked (its code blocks run in test_readme.py)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from haystack import Document
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.testing.jina import JinaEmulator

README = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())


def claim(text: str) -> None:
    """The README says `text` (whitespace-insensitive), so the check below is the check of a documented claim."""
    assert " ".join(text.split()) in README, f"the README no longer says: {text}"


DOCUMENTS = [Document(content=c) for c in ("cats purr", "dogs bark loudly", "cats and dogs", "fish swim")]


def test_ranker_top_k_and_score_threshold(emulator: JinaEmulator, api_key: Secret) -> None:
    claim("`top_k` (a whole number > 0; `None` returns all) and `score_threshold` can be set at init or per run")
    for bad in (0, -1):
        with pytest.raises(ValueError, match="top_k"):
            JinaRanker(api_key=api_key, top_k=bad)
        with pytest.raises(ValueError, match="top_k"):
            JinaRanker(api_key=api_key, base_url=emulator.rerank_url).run("dogs", DOCUMENTS, top_k=bad)
    ranker = JinaRanker(api_key=api_key, base_url=emulator.rerank_url, top_k=1, score_threshold=1e9)
    assert ranker.run("dogs", DOCUMENTS)["documents"] == []  # the init threshold holds
    claim("where a value replaces the init one; `score_threshold=0.0` is a threshold like any other")
    ranked = ranker.run("dogs", DOCUMENTS, top_k=3, score_threshold=0.0)["documents"]
    assert len(ranked) == 3 and all((d.score or 0) >= 0.0 for d in ranked)
    everything = JinaRanker(api_key=api_key, base_url=emulator.rerank_url).run("dogs", DOCUMENTS)["documents"]
    assert len(everything) == len(DOCUMENTS)


def test_rate_limit_advice_is_a_setting_of_every_component() -> None:
    claim("Then lower `max_concurrency`, which every component has")  # and test_readme checks the row's names


def test_web_search_takes_allowed_domains_like_serper_dev(emulator: JinaEmulator, api_key: Secret) -> None:
    claim("like `SerperDevWebSearch` it takes `allowed_domains` at init (sent as the `site` filter")
    emulator.corpus = [{"url": "https://example.org/p", "title": "P", "content": "Pizza from Naples."}]
    JinaWebSearch(api_key=api_key, base_url=emulator.search_url, allowed_domains=["example.org"]).run("pizza")
    assert emulator.requests[-1].headers["X-Site"] == "example.org"


def test_image_embedder_takes_dimensions(api_key: Secret) -> None:
    claim("`embedding_dimension` (Matryoshka; also accepted as `dimensions`")
    embedder = JinaDocumentImageEmbedder(api_key=api_key, dimensions=128)
    assert embedder.to_dict()["init_parameters"]["embedding_dimension"] == 128


def test_yaml_of_published_parameters_only(api_key: Secret) -> None:
    claim("a parameter this package added is written to YAML only when it differs from its default")
    assert "max_concurrency" not in JinaDocumentEmbedder(api_key=api_key).to_dict()["init_parameters"]
    assert JinaDocumentEmbedder(api_key=api_key, max_concurrency=9).to_dict()["init_parameters"]["max_concurrency"]


def test_model_typos_and_new_models(api_key: Secret) -> None:
    claim("that is a `ValueError` at construction saying \"did you mean 'jina-embeddings-v3'?\"")
    with pytest.raises(ValueError, match="did you mean 'jina-embeddings-v3'"):
        JinaTextEmbedder(api_key=api_key, model="jina-embedding-v3")
    claim("so a model Jina adds tomorrow works")
    JinaTextEmbedder(api_key=api_key, model="jina-embeddings-v7", dimensions=4096)


def test_model_errors_name_constructor_parameters(api_key: Secret) -> None:
    claim("names the model and the constructor parameters it accepts")
    with pytest.raises(ValueError, match=r"It accepts the parameters .*task \(") as info:
        JinaDocumentEmbedder(api_key=api_key, model="jina-embeddings-v4", normalized=True)
    assert "return_multivector" not in str(info.value)


def test_over_long_input_names_truncate(emulator: JinaEmulator, api_key: Secret) -> None:
    claim("pass `truncate=True` to the embedder to let the API cut it (the error says so)")
    with pytest.raises(ValueError, match="truncate=True"):
        JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url).run("word " * 9000)


# ---------------------------------------------------------------------------- differences from the published package
def test_difference_image_embedder_outputs_meta(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    claim("| `JinaDocumentImageEmbedder.run` outputs | `documents` | `documents` and `meta` (`model`, `usage`) |")
    Image.new("RGB", (40, 30), "red").save(tmp_path / "r.png")
    embedder = JinaDocumentImageEmbedder(api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False)
    result = embedder.run([Document(content="r", meta={"file_path": str(tmp_path / "r.png")})])
    assert result["meta"]["model"] == "jina-clip-v2" and result["meta"]["usage"]
    body = emulator.requests[-1].json
    assert not body["input"][0]["image"].startswith("data:")  # plain base64, as the difference says
    assert body["embedding_type"] == "base64"


def test_difference_empty_runs(api_key: Secret) -> None:
    claim('`{"documents": [], "meta": {"model", "usage": {}}}`')
    assert JinaRanker(api_key=api_key).run("q", [])["meta"] == {"model": "jina-reranker-v1-base-en", "usage": {}}
    claim('| `JinaDocumentEmbedder.run([])` meta | `{}` | `{"model", "usage": {}}` |')
    assert JinaDocumentEmbedder(api_key=api_key).run([])["meta"] == {"model": "jina-embeddings-v3", "usage": {}}


def test_difference_raise_on_failure(emulator: JinaEmulator, api_key: Secret) -> None:
    claim("with the default `True`, `meta` holds only `model` and `usage`, as published")
    embedder = JinaDocumentEmbedder(api_key=api_key, base_url=emulator.embeddings_url, progress_bar=False)
    assert embedder.run([Document(content="x")])["meta"].keys() == {"model", "usage"}


def test_difference_wire_format_leaves_out_false_and_null(emulator: JinaEmulator, api_key: Secret) -> None:
    claim("`false` / `null` left out")
    JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, late_chunking=False).run("x")
    assert "late_chunking" not in emulator.requests[-1].json
    JinaRanker(api_key=api_key, base_url=emulator.rerank_url).run("dogs", DOCUMENTS)
    assert "top_n" not in emulator.requests[-1].json


def test_difference_reader_headers_and_ground(api_key: Secret) -> None:
    claim("`Authorization`, `Cookie`, `Host` and connection headers refused")
    for name in ("Authorization", "Cookie", "Host", "Connection"):
        with pytest.raises(ValueError, match=re.escape(repr(name))):
            JinaReaderConnector("read", api_key=api_key).run("https://example.org", headers={name: "x"})
    claim('| `JinaReaderConnector` `mode="ground"` | plain | warns `DeprecationWarning` |')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        JinaReaderConnector("ground", api_key=api_key)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_difference_key_resolved_at_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    claim("| API key | resolved in `__init__`: building without `JINA_API_KEY` fails | resolved by `warm_up`")
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    embedder = JinaTextEmbedder()  # no key needed to build
    with pytest.raises(ValueError, match="JINA_API_KEY"):
        embedder.warm_up()


# ---------------------------------------------------------------------------------------------- set-up
def test_dev_py_clean_removes_the_environments(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    claim("so `python3 dev.py clean` (or `rm -rf .dev`) removes all of them")
    shutil.copy(Path(__file__).resolve().parents[1] / "dev.py", tmp_path / "dev.py")
    (tmp_path / ".dev" / "hatch" / "env").mkdir(parents=True)
    completed = subprocess.run(
        [sys.executable, "dev.py", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    assert not (tmp_path / ".dev").exists() and "removed .dev/" in completed.stdout


def test_environments_install_with_uv_and_keep_pip_for_the_wheel_test() -> None:
    claim("hatch installs each environment with [uv](https://docs.astral.sh/uv/)")
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'\[tool\.hatch\.envs\.default\]\ninstaller = "uv"', text)
    test_dependencies = re.search(r"\[tool\.hatch\.envs\.test\]\n(?:#.*\n)*dependencies = \[(.*)\]", text)
    assert test_dependencies is not None and '"pip"' in test_dependencies.group(1)


def test_tool_descriptions_are_short(api_key: Secret) -> None:
    from haystack.tools import ComponentTool

    from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
    from haystack_integrations.components.converters.jina import JinaReaderConverter
    from haystack_integrations.components.embedders.jina import JinaSparseDocumentEmbedder, JinaSparseTextEmbedder
    from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
    from haystack_integrations.components.routers.jina import JinaTextRouter

    claim("every component's is one short paragraph (under 450 characters, no code)")
    components = [JinaTextEmbedder(), JinaDocumentEmbedder(), JinaDocumentImageEmbedder(), JinaRanker()]
    components += [JinaReaderConnector("read"), JinaReaderFetcher(), JinaWebSearch()]
    components += [JinaSparseTextEmbedder(), JinaSparseDocumentEmbedder(), JinaReaderConverter()]
    components += [JinaDocumentClassifier(["sports", "cooking"]), JinaTextRouter(["sports", "cooking"])]
    for component in components:
        description = ComponentTool(component, name="tool").description
        assert len(description) < 450 and "```" not in description, type(component).__name__
