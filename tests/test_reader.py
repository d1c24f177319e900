from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any
from urllib.parse import quote

import pytest
import requests
from haystack import Document, Pipeline
from haystack.utils import Secret
from page_server import PageServer

from haystack_integrations.common.jina.errors import (
    JinaAuthenticationError,
    JinaBadRequestError,
    JinaError,
    JinaMalformedResponseError,
    JinaTargetError,
)
from haystack_integrations.components.connectors.jina import JinaReaderConnector, JinaReaderMode
from haystack_integrations.components.connectors.jina.reader import READER_ENDPOINT_URL_BY_MODE
from haystack_integrations.testing.jina import JinaEmulator

TYPE = "haystack_integrations.components.connectors.jina.reader.JinaReaderConnector"
# Ground mode warns that it is deprecated; the tests below that check the warning use pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore:JinaReaderConnector mode 'ground' is deprecated:DeprecationWarning")

ARTICLE = """<!doctype html>
<html><head><title>Neapolitan pizza</title>
<meta name="description" content="How pizza is made in Naples">
<script>console.log("never shown")</script><style>p { color: red }</style></head>
<body>
<nav class="menu"><a href="/">Home</a> <a href="/about">About</a></nav>
<article id="main" class="post">
  <h1>Pizza in Naples</h1>
  <p>Pizza is <b>baked</b> in a <a href="/ovens">wood-fired oven</a>.<br>It takes ninety seconds.</p>
  <ul><li>flour<li>water<li>salt</ul>
  <img src="/img/margherita-pizza.png"><img src="/img/slice.jpg" alt="A slice">
  <p>See the <a href="/ovens">wood-fired oven</a> again.</p>
</article>
<footer class="ad">Buy our pizza stones</footer>
</body></html>"""

#: A page URL the tests serve from stand-in servers (read mode takes absolute http(s) URLs only), and its path segment.
PAGE = "https://x.example/"
X = quote(PAGE, safe="")
CORPUS = [
    {"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza comes from Naples. It is baked hot."},
    {"url": "https://example.org/pasta", "title": "Pasta", "content": "Pasta is boiled in salted water."},
    {"url": "https://example.org/tea", "title": "Tea", "content": "Green tea is not fermented. It is steamed."},
]


@pytest.fixture
def article(pages: PageServer) -> str:
    return pages.add("/pizza", ARTICLE)


def reader(emulator: JinaEmulator, api_key: Secret, mode: str = "read", **kwargs: Any) -> JinaReaderConnector:
    base_url = {"read": emulator.reader_url, "search": emulator.search_url, "ground": emulator.ground_url}[mode]
    return JinaReaderConnector(mode, api_key=api_key, base_url=base_url, **kwargs)


def only(result: dict[str, list[Document]]) -> Document:
    assert len(result["documents"]) == 1
    return result["documents"][0]


# ---------------------------------------------------------------------------------------------- construction
def test_mode_accepts_enum_and_strings(api_key: Secret) -> None:
    assert JinaReaderConnector(JinaReaderMode.SEARCH, api_key=api_key).mode is JinaReaderMode.SEARCH
    assert JinaReaderConnector("ground", api_key=api_key).mode is JinaReaderMode.GROUND
    assert JinaReaderConnector(" Read ", api_key=api_key).mode is JinaReaderMode.READ
    assert str(JinaReaderMode.READ) == "read"
    assert JinaReaderMode.from_str("search") is JinaReaderMode.SEARCH


def test_unknown_mode_lists_the_valid_ones(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="'scrape'") as info:
        JinaReaderConnector("scrape", api_key=api_key)
    for mode in ("read", "search", "ground"):
        assert mode in str(info.value)


def test_signature_is_drop_in_compatible() -> None:
    parameters = list(inspect.signature(JinaReaderConnector.__init__).parameters.values())[1:]
    assert [p.name for p in parameters[:3]] == ["mode", "api_key", "json_response"]
    assert parameters[0].default is inspect.Parameter.empty
    assert parameters[2].default is True
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[3:])
    assert all(p.default is not inspect.Parameter.empty for p in parameters[1:])


def test_default_endpoints_are_the_hosted_ones(api_key: Secret) -> None:
    assert JinaReaderConnector("read", api_key=api_key).endpoint == "https://r.jina.ai/"
    assert JinaReaderConnector("search", api_key=api_key).endpoint == "https://s.jina.ai/"
    assert JinaReaderConnector("ground", api_key=api_key).endpoint == "https://g.jina.ai/"
    assert READER_ENDPOINT_URL_BY_MODE[JinaReaderMode.READ] == "https://r.jina.ai/"
    assert JinaReaderConnector("read", api_key=api_key, base_url="http://proxy/r/").endpoint == "http://proxy/r/"


def test_to_dict_keeps_the_published_shape(api_key: Secret) -> None:
    assert JinaReaderConnector("search", api_key=api_key).to_dict() == {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "mode": "search",
            "json_response": True,
        },
    }


def test_published_dict_loads(api_key: Secret) -> None:
    published = {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "mode": "ground",
            "json_response": False,
        },
    }
    loaded = JinaReaderConnector.from_dict(published)
    assert loaded.mode is JinaReaderMode.GROUND
    assert loaded.json_response is False
    assert loaded.base_url is None


def test_yaml_round_trip_with_every_option(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    original = JinaReaderConnector(
        "read",
        api_key,
        False,
        base_url=emulator.reader_url,
        return_format="text",
        target_selector=["article", "main"],
        remove_selector="nav",
        wait_for_selector="h1",
        with_links_summary="all",
        with_images_summary=True,
        with_generated_alt=True,
        no_cache=True,
        reader_timeout=20,
        engine="direct",
        timeout=30,
        max_retries=2,
    )
    pipeline = Pipeline()
    pipeline.add_component("reader", original)
    loaded = Pipeline.loads(pipeline.dumps()).get_component("reader")
    assert isinstance(loaded, JinaReaderConnector)
    assert loaded.to_dict() == original.to_dict()
    assert loaded.target_selector == ["article", "main"]

    document = only(loaded.run(article))
    assert document.content.startswith("Pizza in Naples")
    assert emulator.requests[-1].header("X-Target-Selector") == "article, main"


def test_token_secret_refuses_to_serialize(emulator: JinaEmulator) -> None:
    component = JinaReaderConnector("read", api_key=Secret.from_token("secret-token-123"))
    with pytest.raises(ValueError, match="token"):
        component.to_dict()
    assert "secret-token-123" not in repr(component.__dict__.get("_client"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"with_links_summary": "some"}, "with_links_summary"),
        ({"reader_timeout": 0}, "reader_timeout"),
        ({"reader_timeout": 181}, "reader_timeout"),
        ({"reader_timeout": 2.5}, "reader_timeout"),
        ({"target_selector": [""]}, "X-Target-Selector"),
        ({"remove_selector": [3]}, "X-Remove-Selector"),
        ({"return_format": " "}, "X-Return-Format"),
    ],
)
def test_invalid_options_fail_at_construction(api_key: Secret, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JinaReaderConnector("read", api_key=api_key, **options)


# ---------------------------------------------------------------------------------------------- wire
def test_default_request_sends_json_accept_and_no_reader_options(
    emulator: JinaEmulator, api_key: Secret, article: str
) -> None:
    reader(emulator, api_key).run(article)
    sent = emulator.requests[-1]
    assert sent.method == "GET"
    assert sent.header("Accept") == "application/json"
    assert sent.header("Authorization") == f"Bearer {emulator.api_key}"
    assert not [name for name in sent.headers if name.lower().startswith("x-")]


def test_options_reach_the_wire_as_headers(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    component = reader(
        emulator,
        api_key,
        return_format="markdown",
        target_selector="article",
        remove_selector=["nav", ".ad"],
        wait_for_selector="h1",
        with_links_summary=True,
        with_images_summary=True,
        with_generated_alt=True,
        no_cache=True,
        reader_timeout=15,
        engine="browser",
    )
    component.run(article)
    sent = emulator.requests[-1]
    assert {name: sent.header(name) for name in component._headers} == {
        "Accept": "application/json",
        "X-Return-Format": "markdown",
        "X-Target-Selector": "article",
        "X-Remove-Selector": "nav, .ad",
        "X-Wait-For-Selector": "h1",
        "X-With-Links-Summary": "true",
        "X-With-Images-Summary": "true",
        "X-With-Generated-Alt": "true",
        "X-No-Cache": "true",
        "X-Timeout": "15",
        "X-Engine": "browser",
    }


def test_false_flags_send_no_header(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    # the API reads any non-empty value as "on", so False must not be sent as "false"
    reader(emulator, api_key, no_cache=False, with_links_summary=False).run(article)
    assert emulator.requests[-1].header("X-No-Cache") is None
    assert emulator.requests[-1].header("X-With-Links-Summary") is None


def test_run_headers_override_options_case_insensitively_and_are_not_kept(
    emulator: JinaEmulator, api_key: Secret, article: str
) -> None:
    component = reader(emulator, api_key, return_format="html")
    extra = {"x-return-format": "text", "X-Locale": "it-IT"}
    document = only(component.run(article, headers=extra))
    sent = emulator.requests[-1]
    assert sent.header("X-Return-Format") == "text"
    assert [name.lower() for name in sent.headers].count("x-return-format") == 1
    assert sent.header("X-Locale") == "it-IT"
    assert "<h1>" not in document.content
    assert extra == {"x-return-format": "text", "X-Locale": "it-IT"}  # the caller's dict is not modified

    component.run(article)
    assert emulator.requests[-1].header("X-Return-Format") == "html"
    assert emulator.requests[-1].header("X-Locale") is None


def test_text_response_asks_for_text(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    document = only(reader(emulator, api_key, json_response=False).run(article))
    assert emulator.requests[-1].header("Accept") == "text/plain"
    assert document.meta == {"content_type": "text/plain; charset=utf-8", "query": article}
    assert document.content.startswith("Title: Neapolitan pizza\n\nURL Source: " + article)
    assert "Markdown Content:\n" in document.content
    assert "# Pizza in Naples" in document.content


@pytest.mark.parametrize(
    "suffix",
    ["/a page", "/q?x=1&y=2", "/frag#part", "/caffè/ü/日本", "/plus+sign%20already-encoded", "/semi;colon@at"],
)
def test_read_targets_are_encoded_whole(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer, suffix: str
) -> None:
    target = pages.url + suffix
    with pytest.raises(JinaTargetError, match="answered HTTP 404") as failure:  # no such page on the site
        reader(emulator, api_key).run(target)
    assert failure.value.target_status == 404 and failure.value.status_code is None
    sent = emulator.requests[-1]
    assert sent.path == "/r/" + quote(target, safe="")
    assert "/" not in sent.path[3:] and "?" not in sent.path and "#" not in sent.path
    assert pages.requests, "the emulator fetched the page"


def test_search_queries_are_encoded_whole(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [
        {"url": "https://example.org/cafe", "title": "Café", "content": "Il caffè di Napoli è forte."},
        *CORPUS,
    ]
    query = "caffè? #napoli / c++ 100%"
    documents = reader(emulator, api_key, "search").run(query)["documents"]
    assert emulator.requests[-1].path == "/s/" + quote(query, safe="")
    assert documents[0].meta["url"] == "https://example.org/cafe"


def test_base_url_is_a_plain_prefix(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    component = JinaReaderConnector("read", api_key=api_key, base_url=f"{emulator.url}/r/")
    only(component.run(article))
    assert emulator.requests[-1].path == "/r/" + quote(article, safe="")


# ---------------------------------------------------------------------------------------------- read
def test_read_returns_the_main_content_as_markdown_by_default(
    emulator: JinaEmulator, api_key: Secret, article: str
) -> None:
    document = only(reader(emulator, api_key).run(article))
    assert emulator.requests[-1].header("X-Return-Format") is None  # the service's default: `content`
    assert document.meta["title"] == "Neapolitan pizza"
    assert document.meta["description"] == "How pizza is made in Naples"
    assert document.meta["url"] == article
    assert document.meta["usage"]["tokens"] > 0
    assert "links" not in document.meta and "images" not in document.meta
    content = document.content
    assert "# Pizza in Naples" in content
    assert f"Pizza is **baked** in a [wood-fired oven]({article[: -len('/pizza')]}/ovens)." in content
    assert "- flour\n- water\n- salt" in content
    assert "![Image 2: A slice]" in content
    assert "console.log" not in content and "color: red" not in content
    # `content` is readability-filtered: the page chrome (nav, footer) is left out; `markdown` keeps it
    assert "Buy our pizza stones" not in content and "[About]" not in content
    whole = only(reader(emulator, api_key, return_format="markdown").run(article)).content
    assert "Buy our pizza stones" in whole and "[About]" in whole
    assert "# Pizza in Naples" in whole


@pytest.mark.parametrize(
    ("return_format", "present", "absent"),
    [
        ("text", "Pizza is baked in a wood-fired oven.\nIt takes ninety seconds.", "**"),
        ("html", '<article id="main" class="post">', "# Pizza"),
        ("markdown", "# Pizza in Naples", "<h1>"),
        ("content", "# Pizza in Naples", "Buy our pizza stones"),
    ],
)
def test_return_formats(
    emulator: JinaEmulator, api_key: Secret, article: str, return_format: str, present: str, absent: str
) -> None:
    document = only(reader(emulator, api_key, return_format=return_format).run(article))
    assert present in document.content
    assert absent not in document.content
    assert document.meta["title"] == "Neapolitan pizza"
    assert not {"content", "text", "html"} & set(document.meta)


def test_target_and_remove_selectors(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    targeted = only(reader(emulator, api_key, target_selector="article.post", remove_selector="ul, img").run(article))
    assert targeted.content.startswith("# Pizza in Naples")
    assert "Home" not in targeted.content and "pizza stones" not in targeted.content
    assert "flour" not in targeted.content and "![Image" not in targeted.content

    removed = only(reader(emulator, api_key, remove_selector=["nav.menu", "footer"]).run(article))
    assert "[About]" not in removed.content and "pizza stones" not in removed.content
    assert "# Pizza in Naples" in removed.content

    nested = only(reader(emulator, api_key, return_format="html", target_selector="#main > h1").run(article))
    assert nested.content == "<h1>Pizza in Naples</h1>"


def test_unmatched_selectors_warn(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    document = only(reader(emulator, api_key, target_selector="table", wait_for_selector=".late").run(article))
    assert document.content == "How pizza is made in Naples"  # no page text: the description instead
    assert "'table'" in document.meta["warning"] and "'.late'" in document.meta["warning"]


def test_links_and_images_summaries(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    base = article[: -len("/pizza")]
    document = only(reader(emulator, api_key, with_links_summary=True, with_images_summary=True).run(article))
    assert document.meta["links"] == {"Home": f"{base}/", "About": f"{base}/about", "wood-fired oven": f"{base}/ovens"}
    assert document.meta["images"] == {
        "Image 1": f"{base}/img/margherita-pizza.png",
        "Image 2: A slice": f"{base}/img/slice.jpg",
    }

    every = only(reader(emulator, api_key, with_links_summary="all").run(article))
    assert [text for text, _ in every.meta["links"]] == ["Home", "About", "wood-fired oven", "wood-fired oven"]

    as_text = only(reader(emulator, api_key, json_response=False, with_links_summary=True).run(article))
    assert f"Links/Buttons:\n- [Home]({base}/)" in as_text.content


def test_generated_alt_captions_images_without_alt(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    plain = only(reader(emulator, api_key).run(article))
    assert "![Image 1](" in plain.content
    captioned = only(reader(emulator, api_key, with_generated_alt=True).run(article))
    assert "![Image 1: margherita pizza](" in captioned.content
    assert "![Image 2: A slice](" in captioned.content


def test_no_cache_reaches_the_target(emulator: JinaEmulator, api_key: Secret, pages: PageServer, article: str) -> None:
    reader(emulator, api_key).run(article)
    assert pages.requests[-1][1].get("Cache-Control") is None
    reader(emulator, api_key, no_cache=True).run(article)
    assert pages.requests[-1][1].get("Cache-Control") == "no-cache"


@pytest.mark.parametrize("json_response", [True, False])
def test_error_pages_are_failures_not_content(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer, json_response: bool
) -> None:
    # The Reader answers 200 with the target's error page and a warning; the connector raises instead.
    pages.add("/gone", "<h1>Gone</h1>", status=410)
    for path, status in (("/missing", 404), ("/gone", 410)):
        with pytest.raises(JinaTargetError, match=f"answered HTTP {status}") as failure:
            reader(emulator, api_key, json_response=json_response).run(pages.url + path)
        assert failure.value.target_status == status
    assert len(emulator.requests) == 2  # one request each: nothing retried


def test_warnings_that_are_not_target_errors_keep_the_page(
    emulator: JinaEmulator, api_key: Secret, article: str
) -> None:
    document = only(reader(emulator, api_key, wait_for_selector="#never").run(article))
    assert "X-Wait-For-Selector" in document.meta["warning"]
    assert document.content


def test_plain_text_pages(emulator: JinaEmulator, api_key: Secret, pages: PageServer) -> None:
    url = pages.add("/notes.txt", "line one\nline two", content_type="text/plain; charset=utf-8")
    document = only(reader(emulator, api_key).run(url))
    assert document.content == "line one\nline two"
    assert document.meta["title"] == ""


def test_unreachable_target_is_a_clear_error(emulator: JinaEmulator, api_key: Secret, pages: PageServer) -> None:
    dead = "http://127.0.0.1:9/nothing-listens-here"
    with pytest.raises(JinaBadRequestError, match="Failed to fetch") as info:
        reader(emulator, api_key).run(dead)
    assert info.value.status_code == 422
    assert emulator.api_key not in str(info.value)


# ---------------------------------------------------------------------------------------------- search
def test_search_returns_one_document_per_result_in_rank_order(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    documents = reader(emulator, api_key, "search").run("how is pasta boiled in water")["documents"]
    assert [d.meta["url"] for d in documents] == ["https://example.org/pasta"]
    emulator.corpus = [*CORPUS, {"url": "https://example.org/pasta-water", "title": "Water", "content": "Water."}]
    documents = reader(emulator, api_key, "search").run("pasta water")["documents"]
    assert [d.meta["url"] for d in documents] == ["https://example.org/pasta", "https://example.org/pasta-water"]
    first = documents[0]
    assert first.content == "Pasta is boiled in salted water."
    assert first.meta["title"] == "Pasta"
    assert first.meta["description"] == "Pasta is boiled in salted water."
    assert first.meta["usage"]["tokens"] > 0


def test_search_without_matches_is_empty(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    assert reader(emulator, api_key, "search").run("quantum chromodynamics") == {"documents": []}


def test_search_as_text(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    document = only(reader(emulator, api_key, "search", json_response=False).run("green tea"))
    assert document.content.startswith("[1] Title: Tea\n[1] URL Source: https://example.org/tea\n")
    assert document.meta == {"content_type": "text/plain; charset=utf-8", "query": "green tea"}


def test_search_formats_and_no_content(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    html = only(reader(emulator, api_key, "search", return_format="html").run("green tea"))
    assert html.content.startswith("<html><head><title>Tea</title>")
    brief = only(reader(emulator, api_key, "search").run("green tea", headers={"X-Respond-With": "no-content"}))
    assert brief.content == "Green tea is not fermented."  # only the description came back


# ---------------------------------------------------------------------------------------------- ground
def test_ground_supported_statement(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    document = only(reader(emulator, api_key, "ground").run("Pizza comes from Naples"))
    assert document.meta["result"] is True
    assert document.meta["factuality"] == 1.0
    assert document.meta["references"][0] == {
        "url": "https://example.org/pizza",
        "keyQuote": "Pizza comes from Naples.",
        "isSupportive": True,
    }
    assert "https://example.org/pizza" in document.content
    assert document.meta["usage"]["tokens"] > 0
    assert "reason" not in document.meta


def test_ground_contradicted_and_unknown_statements(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    component = reader(emulator, api_key, "ground")
    contradicted = only(component.run("Green tea is fermented"))
    assert contradicted.meta["result"] is False
    assert contradicted.meta["factuality"] < 0.5
    assert contradicted.meta["references"][0]["isSupportive"] is False
    assert "contradicted" in contradicted.content

    unknown = only(component.run("The moon is made of cheese"))
    assert unknown.meta["result"] is False
    assert unknown.meta["references"] == []


def test_ground_as_text(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    document = only(reader(emulator, api_key, "ground", json_response=False).run("Pasta is boiled in water?"))
    assert emulator.requests[-1].path == "/g/" + quote("Pasta is boiled in water?", safe="")
    assert document.content.startswith("Factuality: 1.0\nResult: true\nReason: ")


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_rejected_before_any_request(emulator: JinaEmulator, api_key: Secret, query: str) -> None:
    with pytest.raises(ValueError, match="non-empty query"):
        reader(emulator, api_key).run(query)
    assert emulator.requests == []


def test_non_string_query_is_a_type_error(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(TypeError, match="list"):
        reader(emulator, api_key).run(["https://example.com"])  # type: ignore[arg-type]


def test_wrong_key_is_an_authentication_error(
    emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch, article: str
) -> None:
    monkeypatch.setenv("JINA_API_KEY", "wrong-key-456")
    with pytest.raises(JinaAuthenticationError, match="401") as info:
        reader(emulator, Secret.from_env_var("JINA_API_KEY")).run(article)
    assert "wrong-key-456" not in str(info.value)


def test_transient_errors_are_retried(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    emulator.inject("status", status=503, times=2, path="/r/")
    document = only(reader(emulator, api_key).run(article))
    assert document.meta["title"] == "Neapolitan pizza"
    assert len(emulator.requests_to("/r/")) == 3


def test_http_errors_go_through_the_client(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    emulator.inject("status", status=422, detail="Invalid target", path="/r/")
    with pytest.raises(JinaBadRequestError, match="Invalid target"):
        reader(emulator, api_key, max_retries=0).run(article)
    emulator.inject("status", status=500, detail="boom", path="/s/")
    with pytest.raises(JinaError, match="boom"):
        reader(emulator, api_key, "search", max_retries=0).run("pizza")


def test_body_that_is_not_json(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    emulator.inject("malformed", path="/r/")
    with pytest.raises(JinaMalformedResponseError, match="not JSON"):
        reader(emulator, api_key).run(article)


@pytest.mark.parametrize(
    ("mode", "body", "message"),
    [
        ("read", {"code": 451, "status": 45102, "readableMessage": "Blocked by robots.txt"}, "451.*robots"),
        ("read", {"code": 200, "status": 20000}, "'data' field is missing"),
        ("read", {"code": 200, "status": 20000, "data": None}, "'data' field is missing"),
        ("read", [{"content": "x"}], "JSON object"),
        ("read", {"code": 200, "data": {"title": "no content"}}, "neither the 'content' field"),
        ("read", {"code": 200, "data": "just a string"}, "JSON object"),
        ("search", {"code": 200, "data": {"content": "one"}}, "list of results"),
        ("search", {"code": 200, "data": ["a string"]}, "JSON object"),
        ("ground", {"code": 200, "data": {"factuality": 1}}, "'reason'"),
    ],
)
def test_unexpected_json_bodies(api_key: Secret, pages: PageServer, mode: str, body: Any, message: str) -> None:
    query = "https://x.example/what?"
    pages.add(f"/{mode}/{quote(query, safe='')}", json.dumps(body), content_type="application/json")
    component = JinaReaderConnector(mode, api_key=api_key, base_url=f"{pages.url}/{mode}/")
    with pytest.raises(JinaMalformedResponseError, match=message) as info:
        component.run(query)
    assert "Jina Reader API answered HTTP 200" in str(info.value)


def test_body_without_code_is_accepted(api_key: Secret, pages: PageServer) -> None:
    pages.add(f"/read/{X}", json.dumps({"data": {"content": "hello", "title": "T"}}), content_type="application/json")
    component = JinaReaderConnector("read", api_key=api_key, base_url=f"{pages.url}/read/")
    document = only(component.run(PAGE))
    assert document.content == "hello"
    assert document.meta == {"title": "T"}


def test_text_without_charset_is_utf8(api_key: Secret, pages: PageServer) -> None:
    pages.add(f"/raw/{X}", "caffè 日本", content_type="text/plain")
    component = JinaReaderConnector("read", api_key=api_key, base_url=f"{pages.url}/raw/", json_response=False)
    assert only(component.run(PAGE)).content == "caffè 日本"


# ---------------------------------------------------------------------------------------------- async, pipeline
def test_run_async(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    component = reader(emulator, api_key)

    async def main() -> list[dict[str, list[Document]]]:
        return list(await asyncio.gather(*(component.run_async(article) for _ in range(3))))

    emulator.latency = 0.3
    results = asyncio.run(main())
    assert [only(result).meta["title"] for result in results] == ["Neapolitan pizza"] * 3
    assert emulator.max_in_flight == 3, "concurrent run_async calls must overlap"


def test_in_a_pipeline(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = CORPUS
    pipeline = Pipeline()
    pipeline.add_component("search", reader(emulator, api_key, "search"))
    result = pipeline.run({"search": {"query": "pizza Naples"}})
    assert [d.meta["url"] for d in result["search"]["documents"]] == ["https://example.org/pizza"]


def test_one_session_across_runs(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    component = reader(emulator, api_key)
    component.warm_up()
    session = component._client.session
    component.run(article)
    component.run(article)
    assert component._client.session is session
    component.close()


# ---------------------------------------------------------------------------------------------- emulator edges
def test_emulator_reader_auth_is_optional_and_envelope_is_json(emulator: JinaEmulator, article: str) -> None:
    url = emulator.reader_url + quote(article, safe="")
    anonymous = requests.get(url, headers={"Accept": "application/json"}, timeout=10)
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert (body["code"], body["status"], body["data"]["title"]) == (200, 20000, "Neapolitan pizza")
    as_text = requests.get(url, timeout=10)
    assert as_text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert as_text.text.startswith("Title: Neapolitan pizza")
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"X-Return-Format": "pdf"}, "X-Return-Format must be one of"),
        ({"X-Target-Selector": "li:first-child"}, "cannot parse"),
    ],
)
def test_emulator_rejects_what_it_cannot_do(
    emulator: JinaEmulator, api_key: Secret, article: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(JinaBadRequestError, match=message):  # per-run headers are not checked locally
        reader(emulator, api_key).run(article, headers=options)


# ---------------------------------------------------------------------------------------------- the service's formats
@pytest.mark.parametrize(("return_format", "field"), [("screenshot", "screenshotUrl"), ("pageshot", "pageshotUrl")])
def test_screenshots_give_the_image_url_in_json(
    emulator: JinaEmulator, api_key: Secret, article: str, return_format: str, field: str
) -> None:
    document = only(reader(emulator, api_key, return_format=return_format).run(article))
    assert document.content == document.meta[field]
    assert document.content.startswith(f"{emulator.url}/shots/") and document.content.endswith(".png")
    assert document.meta["title"] == "Neapolitan pizza"
    if return_format == "pageshot":  # the page's HTML comes beside the pageshot, never instead of it
        assert "<article" in document.meta["html"]
    image = requests.get(document.content, timeout=10)
    assert image.headers["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(("return_format", "field"), [("screenshot", "screenshotUrl"), ("pageshot", "pageshotUrl")])
def test_screenshots_as_text_give_the_redirect_target_not_the_bytes(
    emulator: JinaEmulator, api_key: Secret, article: str, return_format: str, field: str
) -> None:
    document = only(reader(emulator, api_key, json_response=False, return_format=return_format).run(article))
    assert document.content.startswith(f"{emulator.url}/shots/") and document.content.endswith(".png")
    assert document.meta[field] == document.content
    assert document.meta["query"] == article
    assert emulator.requests_to("/shots/") == [], "the 302 must not be followed"


def test_a_redirect_without_location_is_an_error(api_key: Secret, pages: PageServer) -> None:
    pages.add(f"/raw/{X}", "", status=302, content_type="text/plain")
    component = JinaReaderConnector(
        "read", api_key=api_key, base_url=f"{pages.url}/raw/", json_response=False, return_format="screenshot"
    )
    with pytest.raises(JinaMalformedResponseError, match="redirect without a Location"):
        component.run(PAGE)


def test_other_redirects_are_followed_as_text(api_key: Secret, pages: PageServer) -> None:
    """Only a screenshot or pageshot redirect is the answer; a proxy's redirect leads to the page."""
    pages.add(f"/moved/{X}", "the page text", content_type="text/plain; charset=utf-8")
    pages.redirect(f"/raw/{X}", f"/moved/{X}")
    component = JinaReaderConnector("read", api_key=api_key, base_url=f"{pages.url}/raw/", json_response=False)
    document = only(component.run(PAGE))
    assert document.content == "the page text"
    assert [path for path, _ in pages.requests] == [f"/raw/{X}", f"/moved/{X}"]


def test_links_summary_last_link_wins_for_a_text(emulator: JinaEmulator, api_key: Secret, pages: PageServer) -> None:
    url = pages.add(
        "/dup",
        '<html><body><a href="/one">Docs</a> <a href="/x">Other</a> <a href="/two">Docs</a></body></html>',
    )
    document = only(reader(emulator, api_key, with_links_summary=True).run(url))
    assert document.meta["links"] == {"Docs": f"{pages.url}/two", "Other": f"{pages.url}/x"}
    assert list(document.meta["links"]) == ["Docs", "Other"]


@pytest.mark.parametrize(
    ("headers", "field", "starts"),
    [
        ({}, None, "Green tea is not fermented. It is steamed."),
        ({"X-Return-Format": "markdown"}, None, "Green tea is not fermented. It is steamed."),
        ({"X-Return-Format": "text"}, None, "Green tea is not fermented. It is steamed."),
        ({"X-Return-Format": "html"}, None, "<html><head><title>Tea</title>"),
        ({"X-Respond-With": "no-content"}, None, "Green tea is not fermented."),
    ],
)
def test_search_content_comes_from_the_format_field(
    emulator: JinaEmulator, api_key: Secret, headers: dict[str, str], field: str | None, starts: str
) -> None:
    emulator.corpus = CORPUS
    document = only(reader(emulator, api_key, "search").run("green tea", headers=headers))
    raw = requests.get(
        emulator.search_url + "green%20tea",
        headers={"Accept": "application/json", "Authorization": f"Bearer {emulator.api_key}", **headers},
        timeout=10,
    ).json()["data"][0]
    if headers.get("X-Return-Format") in ("html", "text") or headers.get("X-Respond-With"):
        assert raw["content"] == ""  # the service's shape: the page is in the format's own field
    assert document.content.startswith(starts)
    assert not {"content", "html", "text"} & set(document.meta)


# ---------------------------------------------------------------------------------------------- new options, headers
def test_new_options_reach_the_wire_and_serialize(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    component = reader(
        emulator,
        api_key,
        token_budget=20000,
        retain_images="none",
        locale="de-DE",
        with_iframe=True,
        with_shadow_dom=True,
        respond_with="readerlm-v2",
    )
    component.run(article)
    sent = emulator.requests[-1]
    assert {name: value for name, value in sent.headers.items() if name.lower().startswith("x-")} == {
        "X-Token-Budget": "20000",
        "X-Retain-Images": "none",
        "X-Locale": "de-DE",
        "X-With-Iframe": "true",
        "X-With-Shadow-Dom": "true",
        "X-Respond-With": "readerlm-v2",
    }
    loaded = JinaReaderConnector.from_dict(component.to_dict())
    assert loaded.to_dict() == component.to_dict()
    assert loaded._headers == component._headers
    parameters = inspect.signature(JinaReaderConnector.__init__).parameters
    for name in ("token_budget", "retain_images", "locale", "with_iframe", "with_shadow_dom", "respond_with"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY and parameters[name].default is None


def test_flags_set_to_false_or_none_send_nothing(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    reader(emulator, api_key, with_iframe=False, with_shadow_dom=None).run(article)
    assert emulator.requests[-1].header("X-With-Iframe") is None
    assert emulator.requests[-1].header("X-With-Shadow-Dom") is None


@pytest.mark.parametrize(
    "options",
    [
        {"locale": "de-DE\r\nAuthorization: Bearer stolen"},
        {"engine": "browser\nX-Evil: 1"},
        {"target_selector": ["article", "main\r"]},
        {"return_format": "text\x00"},
        {"respond_with": "no-content\n"},
    ],
)
def test_option_values_with_cr_or_lf_are_refused_at_construction(api_key: Secret, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="control characters"):
        JinaReaderConnector("read", api_key=api_key, **options)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer someone-elses-key"}, "'Authorization' cannot be set per run"),
        ({"authorization": "Bearer x"}, "cannot be set per run"),
        ({"AUTHORIZATION": "Bearer x"}, "cannot be set per run"),
        ({"Cookie": "a=b"}, "cannot be set per run"),
        ({"X-Locale": "de-DE\r\nAuthorization: Bearer x"}, "control characters"),
        ({"X-Locale": "de-DE\nX-Evil: 1"}, "control characters"),
        ({"X-Bad\r\nName": "1"}, "not a valid HTTP header name"),
        ({"X-Locale": 3}, "must be a string"),
    ],
)
def test_per_run_headers_cannot_take_the_key_or_inject_headers(
    emulator: JinaEmulator, api_key: Secret, article: str, headers: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        reader(emulator, api_key).run(article, headers=headers)
    assert emulator.requests == []


def test_as_a_tool_an_llm_cannot_replace_the_key(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    from haystack.tools import ComponentTool

    tool = ComponentTool(reader(emulator, api_key), name="read_page")
    description = tool.parameters["properties"]["headers"]["description"]
    assert "Authorization" in description and "cannot" in description
    with pytest.raises(Exception, match="cannot be set per run"):
        tool.invoke(query=article, headers={"Authorization": "Bearer attacker-key"})
    assert all(r.header("Authorization") != "Bearer attacker-key" for r in emulator.requests)
    assert tool.invoke(query=article, headers={"X-Locale": "it-IT"})["documents"][0].meta["title"]
    assert emulator.requests[-1].header("Authorization") == f"Bearer {emulator.api_key}"


# ---------------------------------------------------------------------------------------------- ground (deprecated)
def test_ground_mode_is_deprecated(api_key: Secret) -> None:
    with pytest.warns(DeprecationWarning, match="may be retired") as record:
        JinaReaderConnector("ground", api_key=api_key)
    assert record[0].filename == __file__, "the warning points at the caller's line, so users see it"
    with pytest.warns(DeprecationWarning, match="ground"):
        JinaReaderConnector.from_dict({"type": TYPE, "init_parameters": {"mode": "ground"}})


@pytest.mark.parametrize("status", [404, 410])
def test_ground_404_or_410_says_the_endpoint_may_be_retired(
    emulator: JinaEmulator, api_key: Secret, status: int
) -> None:
    emulator.inject("status", status=status, detail="Not here", path="/g/")
    with pytest.warns(DeprecationWarning, match="ground"):
        component = reader(emulator, api_key, "ground")
    with pytest.raises(JinaBadRequestError, match="may be retired") as info:
        component.run("Pizza comes from Naples")
    assert info.value.status_code == status
    assert "Not here" in str(info.value)


def test_other_ground_errors_and_read_404_are_unchanged(emulator: JinaEmulator, api_key: Secret, article: str) -> None:
    emulator.inject("status", status=422, detail="Bad statement", path="/g/")
    with pytest.warns(DeprecationWarning, match="ground"):
        component = reader(emulator, api_key, "ground")
    with pytest.raises(JinaBadRequestError) as info:
        component.run("Pizza comes from Naples")
    assert "retired" not in str(info.value)
    emulator.inject("status", status=404, detail="Gone", path="/r/")
    with pytest.raises(JinaBadRequestError) as read_info:
        reader(emulator, api_key).run(article)
    assert "retired" not in str(read_info.value)


# ---------------------------------------------------------------------------------------------- emulator search
def test_emulator_search_post_validates_like_the_service(emulator: JinaEmulator) -> None:
    emulator.corpus = [{"url": f"https://example.org/{i}", "title": f"Pizza {i}", "content": "pz"} for i in range(30)]
    auth = {"Authorization": f"Bearer {emulator.api_key}", "Accept": "application/json"}

    def post(body: Any) -> requests.Response:
        return requests.post(emulator.search_url, json=body, headers=auth, timeout=10)

    assert len(post({"q": "pizza", "num": 50}).json()["data"]) == 20  # num is capped at 20
    assert len(post({"q": "pizza", "count": 7}).json()["data"]) == 7
    assert len(post({"q": "pizza"}).json()["data"]) == 5
    for body, status in [({"num": 3}, 422), ({"q": "pizza", "num": 0}, 422), ({"q": "pizza", "top": 3}, 422)]:
        assert post(body).status_code == status, body
    key = {"Authorization": auth["Authorization"]}
    text = requests.post(emulator.search_url, json={"q": "pizza", "num": 1}, headers=key, timeout=10)
    assert text.text.startswith("[1] Title: Pizza 0\n")
