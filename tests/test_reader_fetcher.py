from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any
from urllib.parse import quote

import pytest
from haystack import Document, Pipeline
from haystack.tools import ComponentTool
from haystack.utils import Secret
from page_server import SERVICE_FIELDS, PageServer

from haystack_integrations.common.jina.errors import JinaBadRequestError
from haystack_integrations.common.jina.reader import READER_OPTIONS
from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.testing.jina import JinaEmulator

TYPE = "haystack_integrations.components.fetchers.jina.reader_fetcher.JinaReaderFetcher"


def page(title: str, body: str) -> str:
    return (
        f"<html><head><title>{title}</title><meta name='description' content='About {title}'></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1><p>{body}</p></article></body></html>"
    )


@pytest.fixture
def site(pages: PageServer) -> list[str]:
    return [pages.add(f"/{name}", page(name.title(), f"All about {name}.")) for name in ("pizza", "pasta", "tea")]


def fetcher(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaReaderFetcher:
    return JinaReaderFetcher(api_key=api_key, base_url=emulator.reader_url, **kwargs)


# ---------------------------------------------------------------------------------------------- construction
def test_signature_has_the_reader_options_of_the_connector() -> None:
    fetcher_parameters = inspect.signature(JinaReaderFetcher.__init__).parameters
    connector_parameters = inspect.signature(JinaReaderConnector.__init__).parameters
    for name in READER_OPTIONS:
        assert fetcher_parameters[name].default == connector_parameters[name].default, name
        assert fetcher_parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(JinaReaderFetcher.run).parameters) == ["self", "urls"]


def test_serialization_round_trip(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    original = fetcher(emulator, api_key, max_concurrency=2, raise_on_failure=False, return_format="text", locale="it")
    data = original.to_dict()
    assert data["type"] == TYPE
    assert data["init_parameters"]["api_key"] == {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True}
    assert data["init_parameters"]["return_format"] == "text"
    assert data["init_parameters"]["max_concurrency"] == 2
    assert set(data["init_parameters"]) >= set(READER_OPTIONS)
    pipeline = Pipeline()
    pipeline.add_component("fetch", original)
    loaded = Pipeline.loads(pipeline.dumps()).get_component("fetch")
    assert isinstance(loaded, JinaReaderFetcher)
    assert loaded.to_dict() == data
    assert loaded.run(site[:1])["documents"][0].content == "Home\n\nPizza\n\nAll about pizza."  # text: whole page


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reader_timeout": 0}, "reader_timeout"),
        ({"token_budget": 0}, "token_budget"),
        ({"with_iframe": "yes"}, "with_iframe"),
        ({"locale": "de-DE\r\nAuthorization: Bearer x"}, "control characters"),
        ({"target_selector": ["main", "div\nX-Evil: 1"]}, "control characters"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ],
)
def test_invalid_options(api_key: Secret, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JinaReaderFetcher(api_key=api_key, **options)


# ---------------------------------------------------------------------------------------------- reading
def test_one_document_per_url_in_input_order(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    urls = [site[2], site[0], site[1], site[0]]
    result = fetcher(emulator, api_key).run(urls)
    assert [doc.meta["url"] for doc in result["documents"]] == urls
    assert [doc.meta["title"] for doc in result["documents"]] == ["Tea", "Pizza", "Pasta", "Pizza"]
    first = result["documents"][0]
    assert first.content == "# Tea\n\nAll about tea."  # the default `content`: main content as markdown
    assert first.meta["description"] == "About Tea"
    assert result["meta"]["failed_urls"] == []
    assert result["meta"]["usage"]["tokens"] == sum(doc.meta["usage"]["tokens"] for doc in result["documents"])
    # one request per URL (they may arrive in any order), each URL encoded whole
    assert sorted(r.path for r in emulator.requests_to("/r/")) == sorted("/r/" + quote(url, safe="") for url in urls)


def test_reads_concurrently_bounded_by_max_concurrency(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer
) -> None:
    urls = [pages.add(f"/p{i}", page(f"Page {i}", "text")) for i in range(8)]
    emulator.latency = 0.2
    result = fetcher(emulator, api_key, max_concurrency=3).run(urls)
    assert [doc.meta["title"] for doc in result["documents"]] == [f"Page {i}" for i in range(8)]
    assert emulator.max_in_flight == 3


def test_options_reach_the_wire(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    fetcher(
        emulator,
        api_key,
        return_format="markdown",
        target_selector=["article", "main"],
        with_links_summary=True,
        token_budget=5000,
        retain_images="none",
        locale="it-IT",
        with_iframe=True,
        with_shadow_dom=True,
        respond_with="readerlm-v2",
        with_generated_alt=False,
    ).run(site[:1])
    sent = emulator.requests[-1]
    assert {name: value for name, value in sent.headers.items() if name.lower().startswith("x-")} == {
        "X-Return-Format": "markdown",
        "X-Target-Selector": "article, main",
        "X-With-Links-Summary": "true",
        "X-Token-Budget": "5000",
        "X-Retain-Images": "none",
        "X-Locale": "it-IT",
        "X-With-Iframe": "true",
        "X-With-Shadow-Dom": "true",
        "X-Respond-With": "readerlm-v2",
    }
    assert sent.header("Accept") == "application/json"


def test_an_option_set_after_construction_reaches_the_request_and_to_dict(
    emulator: JinaEmulator, api_key: Secret, site: list[str]
) -> None:
    # each reader option is still an attribute that can be set, as a plain one could: what to_dict writes is sent
    reader = fetcher(emulator, api_key)
    reader.target_selector = ["main"]
    reader.return_format = "text"
    reader.run(site[:1])
    assert emulator.requests[-1].header("X-Target-Selector") == "main"
    assert emulator.requests[-1].header("X-Return-Format") == "text"
    assert reader.to_dict()["init_parameters"]["target_selector"] == ["main"]


@pytest.mark.parametrize(
    ("return_format", "expected"),
    [
        ("content", "# Pizza\n\nAll about pizza."),
        ("markdown", "[Home]("),
        ("text", "Home\n\nPizza\n\nAll about pizza."),
        ("html", "<article><h1>Pizza</h1>"),
    ],
)
def test_return_formats(
    emulator: JinaEmulator, api_key: Secret, site: list[str], return_format: str, expected: str
) -> None:
    (document,) = fetcher(emulator, api_key, return_format=return_format).run(site[:1])["documents"]
    assert document.content is not None and expected in document.content
    assert not {"content", "text", "html"} & set(document.meta)


@pytest.mark.parametrize(("return_format", "field"), [("screenshot", "screenshotUrl"), ("pageshot", "pageshotUrl")])
def test_screenshots_are_urls(
    emulator: JinaEmulator, api_key: Secret, site: list[str], return_format: str, field: str
) -> None:
    (document,) = fetcher(emulator, api_key, return_format=return_format).run(site[:1])["documents"]
    assert document.content == document.meta[field]
    assert document.content.startswith(emulator.url) and document.content.endswith(".png")


def test_failures_raise_by_default(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    dead = "http://127.0.0.1:9/nothing-listens-here"
    with pytest.raises(JinaBadRequestError, match="Failed to fetch"):
        fetcher(emulator, api_key, max_concurrency=1).run([site[0], dead, site[1]])


def test_failures_are_listed_without_raise_on_failure(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    dead = "http://127.0.0.1:9/nothing-listens-here"
    result = fetcher(emulator, api_key, raise_on_failure=False).run([site[0], dead, site[1]])
    documents = result["documents"]
    assert [doc.meta["url"] for doc in documents] == [site[0], dead, site[1]]
    assert documents[1].content is None
    assert "Failed to fetch" in documents[1].meta["error"]
    assert [doc.meta["title"] for doc in (documents[0], documents[2])] == ["Pizza", "Pasta"]
    (failure,) = result["meta"]["failed_urls"]
    assert failure["url"] == dead
    assert failure["error"].startswith("JinaBadRequestError: ") and "422" in failure["error"]
    assert emulator.api_key not in json.dumps(result["meta"])


def test_empty_list_makes_no_request(emulator: JinaEmulator, api_key: Secret) -> None:
    assert fetcher(emulator, api_key).run([]) == {"documents": [], "meta": {"failed_urls": [], "usage": {"tokens": 0}}}
    assert emulator.requests == []


@pytest.mark.parametrize(("urls", "error"), [("https://a.b", TypeError), ([3], TypeError), (["ok", " "], ValueError)])
def test_bad_input(emulator: JinaEmulator, api_key: Secret, urls: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        fetcher(emulator, api_key).run(urls)
    assert emulator.requests == []


# ---------------------------------------------------------------------------------------------- pipeline, tool, async
def test_search_then_read_in_a_pipeline(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [  # the emulator reads these URLs from its corpus: search results can be read offline
        {"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza is baked in Naples."},
        {"url": "https://example.org/tea", "title": "Tea", "content": "Tea is steamed."},
        {"url": "https://example.org/pasta", "title": "Pasta", "content": "Pasta and pizza are Italian."},
    ]
    pipeline = Pipeline()
    pipeline.add_component("search", JinaWebSearch(top_k=2, base_url=emulator.search_url, api_key=api_key))
    pipeline.add_component("fetch", fetcher(emulator, api_key))
    pipeline.connect("search.links", "fetch.urls")
    result = pipeline.run({"search": {"query": "pizza", "search_params": {"respond_with": "no-content"}}})
    documents = result["fetch"]["documents"]
    assert [doc.meta["url"] for doc in documents] == ["https://example.org/pizza", "https://example.org/pasta"]
    assert documents[0].content == "# Pizza\n\nPizza is baked in Naples."
    assert [request.method for request in emulator.requests] == ["POST", "GET", "GET"]
    assert emulator.requests[0].header("X-Respond-With") == "no-content"


def test_component_tool(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    tool = ComponentTool(fetcher(emulator, api_key), name="read_pages")
    assert tool.parameters["required"] == ["urls"]
    assert set(tool.parameters["properties"]) == {"urls"}
    assert tool.parameters["properties"]["urls"]["items"] == {"type": "string"}
    assert "URLs" in tool.parameters["properties"]["urls"]["description"]
    result = tool.invoke(urls=site[:2])
    assert [doc.meta["title"] for doc in result["documents"]] == ["Pizza", "Pasta"]
    assert isinstance(result["documents"][0], Document)


def test_run_async(emulator: JinaEmulator, api_key: Secret, site: list[str]) -> None:
    component = fetcher(emulator, api_key)

    async def main() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(component.run_async([url]) for url in site)))

    emulator.latency = 0.3
    results = asyncio.run(main())
    assert [result["documents"][0].meta["title"] for result in results] == ["Pizza", "Pasta", "Tea"]
    assert emulator.max_in_flight == 3


def test_emulator_reads_its_corpus_urls_without_fetching(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [{"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza comes from Naples."}]
    (document,) = fetcher(emulator, api_key).run(["https://example.org/pizza"])["documents"]
    assert document.content == "# Pizza\n\nPizza comes from Naples."
    assert (document.meta["title"], document.meta["description"]) == ("Pizza", "Pizza comes from Naples.")


@pytest.mark.parametrize("return_format", sorted(SERVICE_FIELDS))
def test_every_return_format_of_the_service_table(api_key: Secret, pages: PageServer, return_format: str) -> None:
    field, value = SERVICE_FIELDS[return_format]
    target = "https://example.org/page?x=1"
    data = {"title": "Page", "url": target, "description": "About.", field: value, "usage": {"tokens": 7}}
    if return_format == "pageshot":
        data["html"] = "<html>beside the pageshot</html>"
    body = json.dumps({"code": 200, "status": 20000, "data": data})
    pages.add("/read/" + quote(target, safe=""), body, content_type="application/json")
    component = JinaReaderFetcher(api_key=api_key, base_url=pages.url + "/read/", return_format=return_format)
    (document,) = component.run([target])["documents"]
    assert document.content == value
    assert (field in document.meta) is (field in ("screenshotUrl", "pageshotUrl"))
    assert pages.requests[-1][1]["X-Return-Format"] == return_format
