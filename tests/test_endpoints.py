"""Endpoints: base_url checked at construction, JINA_*_BASE_URL retarget hosted defaults, a 404 says what to fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from haystack import Document, Pipeline
from haystack.utils import Secret

from haystack_integrations.common.jina.endpoints import check_base_url, resolve_url
from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaMalformedResponseError
from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.embedders.jina import (
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.testing.jina import JinaEmulator

FIXTURES = Path(__file__).parent / "fixtures" / "published"
VARIABLES = ("JINA_API_BASE_URL", "JINA_READER_BASE_URL", "JINA_SEARCH_BASE_URL")
DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


BUILDERS: dict[str, Any] = {
    "text_embedder": JinaTextEmbedder,
    "document_embedder": JinaDocumentEmbedder,
    "image_embedder": JinaDocumentImageEmbedder,
    "ranker": JinaRanker,
    "reader": lambda **kw: JinaReaderConnector("read", **kw),
}


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize(
    "bad", ["api.jina.ai/v1/embeddings", "ftp://api.jina.ai/", "", "/v1/rerank", " https://api.jina.ai/v1/rerank", 42]
)
def test_base_url_that_is_not_an_absolute_http_url_fails_at_construction(name: str, bad: Any) -> None:
    with pytest.raises(ValueError, match="base_url must be an absolute http"):
        BUILDERS[name](base_url=bad)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.jina.ai/v1/embeddings", "http://gw:8080/jina/v1/embeddings"),
        ("https://api.jina.ai/v1/rerank", "http://gw:8080/jina/v1/rerank"),
        ("https://r.jina.ai/https%3A%2F%2Fexample.com", "http://gw:8080/r/https%3A%2F%2Fexample.com"),
        ("https://s.jina.ai/pizza", "http://search/pizza"),
        ("https://g.jina.ai/tea", "https://g.jina.ai/tea"),  # no variable for the grounding endpoint
        ("https://api.jina.ai.example.com/v1/rerank", "https://api.jina.ai.example.com/v1/rerank"),
        ("https://eu-api.jina.ai/v1/embeddings", "https://eu-api.jina.ai/v1/embeddings"),  # explicit: wins
        ("http://127.0.0.1:1/v1/embeddings", "http://127.0.0.1:1/v1/embeddings"),
    ],
)
def test_resolve_url_moves_only_hosted_defaults(url: str, expected: str) -> None:
    environ = {
        "JINA_API_BASE_URL": "http://gw:8080/jina/",  # a trailing "/" or not: both work
        "JINA_READER_BASE_URL": "http://gw:8080/r",  # the reader prefix gets its "/"
        "JINA_SEARCH_BASE_URL": "http://search/",
    }
    assert resolve_url(url, environ) == expected
    assert resolve_url(url, {}) == url


def test_check_base_url_names_the_variable() -> None:
    with pytest.raises(ValueError, match="JINA_API_BASE_URL must be an absolute"):
        check_base_url("localhost:8080", "JINA_API_BASE_URL")


def test_api_base_url_moves_components_built_before_it_was_set(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, ranker = JinaTextEmbedder(), JinaRanker(base_url="https://api.jina.ai/v1/rerank")  # the hosted defaults
    assert text.to_dict()["init_parameters"]["base_url"] == "https://api.jina.ai/v1/embeddings"
    monkeypatch.setenv("JINA_API_BASE_URL", emulator.url)
    assert text.run("pizza")["embedding"]
    assert ranker.run("pizza", [Document(content="pizza"), Document(content="tea")])["documents"]
    assert [r.path for r in emulator.requests] == ["/v1/embeddings", "/v1/rerank"]
    assert text.to_dict()["init_parameters"]["base_url"] == "https://api.jina.ai/v1/embeddings"  # unchanged


def test_explicit_other_base_url_wins_over_the_variable(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JINA_API_BASE_URL", DEAD)
    assert JinaTextEmbedder(base_url=emulator.embeddings_url).run("pizza")["embedding"]
    assert len(emulator.requests) == 1


def test_bad_variable_fails_at_warm_up_naming_it(api_key: Secret, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = JinaTextEmbedder()
    monkeypatch.setenv("JINA_API_BASE_URL", "127.0.0.1:8080")
    with pytest.raises(ValueError, match="JINA_API_BASE_URL must be an absolute http"):
        embedder.warm_up()


def test_published_reader_yaml_follows_the_search_variable(
    emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.corpus = [{"url": "https://example.org/tea", "title": "Tea", "content": "Green tea is not fermented."}]
    pipeline = Pipeline.loads((FIXTURES / "reader.yaml").read_text(encoding="utf-8"))
    monkeypatch.setenv("JINA_SEARCH_BASE_URL", emulator.search_url.rstrip("/"))  # without its "/": still fine
    documents = pipeline.run({"reader": {"query": "green tea"}})["reader"]["documents"]
    assert documents[0].meta["url"] == "https://example.org/tea"
    assert emulator.requests[0].path == "/s/green%20tea"


def test_reader_base_url_without_trailing_slash_gets_one(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [{"url": "https://example.org/tea", "title": "Tea", "content": "Green tea is not fermented."}]
    reader = JinaReaderConnector("search", base_url=emulator.search_url.rstrip("/"))
    assert reader.run("tea")["documents"][0].meta["url"] == "https://example.org/tea"


def test_404_names_the_url_and_the_shape_of_base_url_without_retrying(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = JinaTextEmbedder(base_url=emulator.url, max_retries=3)  # the origin only: the path is missing
    with pytest.raises(JinaBadRequestError) as info:
        embedder.run("pizza")
    message = str(info.value)
    assert info.value.status_code == 404
    assert f"The URL called was {emulator.url}" in message
    assert "https://api.jina.ai/v1/embeddings" in message and "base_url" in message
    assert len(emulator.requests) == 1  # a wrong URL stays wrong: not retried


MOVED: dict[str, Any] = {
    "text_embedder": lambda: JinaTextEmbedder().run("pizza"),
    "document_embedder": lambda: JinaDocumentEmbedder(progress_bar=False).run([Document(content="pizza")]),
    "ranker": lambda: JinaRanker().run("pizza", [Document(content="pizza"), Document(content="tea")]),
    "reader": lambda: JinaReaderConnector("search").run("pizza"),
    "fetcher": lambda: JinaReaderFetcher().run(["https://example.org/pizza"]),
    "web_search": lambda: JinaWebSearch().run("pizza"),
}


@pytest.mark.parametrize(
    ("name", "fault"),
    [(name, "malformed") for name in MOVED]  # not JSON
    + [(name, "wrong_count") for name in ("text_embedder", "document_embedder", "ranker")],  # JSON, checked
)
def test_malformed_answer_names_the_url_the_environment_moved_to(
    name: str, fault: str, emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.corpus = [{"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza is from Naples."}]
    monkeypatch.setenv("JINA_API_BASE_URL", emulator.url)
    monkeypatch.setenv("JINA_READER_BASE_URL", emulator.reader_url)
    monkeypatch.setenv("JINA_SEARCH_BASE_URL", emulator.search_url)
    emulator.inject(fault)
    with pytest.raises(JinaMalformedResponseError) as info:
        MOVED[name]()
    assert info.value.endpoint is not None and info.value.endpoint.startswith(emulator.url)
    assert "jina.ai" not in str(info.value)
    assert info.value.endpoint in str(info.value)


FOLLOWED: dict[str, Any] = {  # (variable or None for base_url, builder taking base_url, run)
    "JINA_API_BASE_URL": (lambda **kw: JinaTextEmbedder(), lambda c: c.run("pizza")["embedding"]),
    "JINA_READER_BASE_URL": (lambda **kw: JinaReaderFetcher(), lambda c: c.run(["https://example.org/pizza"])),
    "JINA_SEARCH_BASE_URL": (lambda **kw: JinaWebSearch(), lambda c: c.run("pizza")["documents"]),
    "text_embedder": (JinaTextEmbedder, lambda c: c.run("pizza")["embedding"]),
    "ranker": (JinaRanker, lambda c: c.run("pizza", [Document(content="pizza")])["documents"]),
    "fetcher": (JinaReaderFetcher, lambda c: c.run(["https://example.org/pizza"])["documents"]),
    "web_search": (JinaWebSearch, lambda c: c.run("pizza")["documents"]),
    "reader_search": (lambda **kw: JinaReaderConnector("search", **kw), lambda c: c.run("pizza")["documents"]),
}


@pytest.mark.parametrize("name", list(FOLLOWED))
def test_bad_url_message_gives_an_example_that_works_when_followed(
    name: str, emulator: JinaEmulator, api_key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.corpus = [{"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza is from Naples."}]
    build, use = FOLLOWED[name]
    variable = name if name.startswith("JINA_") else None
    if variable:
        monkeypatch.setenv(variable, "localhost")
        with pytest.raises(ValueError, match=f"{variable} must be") as info:
            build().warm_up()
    else:
        with pytest.raises(ValueError, match="base_url must be") as info:
            build(base_url="localhost")
    local = re.search(r"http://127\.0\.0\.1:8080\S*", str(info.value))
    assert local is not None, str(info.value)
    followed = local.group(0).replace("http://127.0.0.1:8080", emulator.url)
    if variable:
        monkeypatch.setenv(variable, followed)
        component = build()
    else:
        component = build(base_url=followed)
    assert use(component)
    assert emulator.requests and not any(r.path.count("/v1/") > 1 for r in emulator.requests)
