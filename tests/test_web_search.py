from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import pytest
import requests
from haystack import Document, Pipeline
from haystack.tools import ComponentTool
from haystack.utils import Secret
from page_server import SERVICE_FIELDS, PageServer

from haystack_integrations.common.jina.errors import (
    JinaAuthenticationError,
    JinaMalformedResponseError,
    JinaServerError,
)
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.testing.jina import JinaEmulator

TYPE = "haystack_integrations.components.websearch.jina.web_search.JinaWebSearch"

CORPUS = [
    {"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza comes from Naples. It is baked hot."},
    {"url": "https://blog.example.com/pizza-oven", "title": "Ovens", "content": "A pizza oven burns wood."},
    {"url": "https://example.net/pizza-dough", "title": "Dough", "content": "Pizza dough rests a day."},
    {"url": "https://example.org/tea", "title": "Tea", "content": "Green tea is not fermented. It is steamed."},
]


@pytest.fixture
def corpus(emulator: JinaEmulator) -> list[dict[str, str]]:
    emulator.corpus = CORPUS
    return CORPUS


def web_search(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaWebSearch:
    return JinaWebSearch(api_key=api_key, base_url=emulator.search_url, **kwargs)


# ---------------------------------------------------------------------------------------------- construction
def test_signature_follows_the_issue_and_haystack_convention() -> None:
    parameters = list(inspect.signature(JinaWebSearch.__init__).parameters.values())[1:]
    assert [(p.name, p.kind) for p in parameters[:3]] == [
        ("api_key", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("top_k", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("search_params", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]
    assert parameters[1].default == 10 and parameters[2].default is None
    assert {p.name: p.default for p in parameters[3:]} == {
        "base_url": "https://s.jina.ai/",
        "timeout": None,
        "max_retries": None,
        "allowed_domains": None,
        "max_concurrency": None,
    }
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[3:])
    assert list(inspect.signature(JinaWebSearch.run).parameters) == ["self", "query", "search_params"]


@pytest.mark.parametrize("top_k", [0, 21, -1, 2.5, True, "5"])
def test_top_k_is_1_to_20(api_key: Secret, top_k: Any) -> None:
    with pytest.raises(ValueError, match="top_k"):
        JinaWebSearch(api_key=api_key, top_k=top_k)


def test_unknown_search_params_list_the_known_ones(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(ValueError, match="Unknown search_params num") as info:
        JinaWebSearch(api_key=api_key, search_params={"num": 5})
    for known in ("site", "gl", "hl", "location", "page", "respond_with", "return_format", "max_tokens"):
        assert known in str(info.value)
    component = web_search(emulator, api_key)
    with pytest.raises(ValueError, match="Unknown search_params country"):
        component.run("pizza", search_params={"country": "it"})
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": 0}, "page"),
        ({"page": "2"}, "page"),
        ({"max_tokens": True}, "max_tokens"),
        ({"site": []}, "site"),
        ({"site": ["ok.com", ""]}, "site"),
        ({"gl": ""}, "gl"),
        ({"hl": 3}, "hl"),
        ({"site": "a.com\r\nAuthorization: Bearer stolen"}, "control characters"),
        ({"respond_with": "no-content\nX-Evil: 1"}, "control characters"),
    ],
)
def test_invalid_search_params(api_key: Secret, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JinaWebSearch(api_key=api_key, search_params=params)


def test_serialization_round_trip(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    original = web_search(emulator, api_key, top_k=3, search_params={"site": ["example.org"], "hl": "en"}, timeout=9)
    assert original.to_dict() == {
        "type": TYPE,
        "init_parameters": {
            "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
            "top_k": 3,
            "search_params": {"site": ["example.org"], "hl": "en"},
            "base_url": emulator.search_url,
            "timeout": 9,
            "max_retries": None,
        },
    }
    pipeline = Pipeline()
    pipeline.add_component("search", original)
    loaded = Pipeline.loads(pipeline.dumps()).get_component("search")
    assert isinstance(loaded, JinaWebSearch)
    assert loaded.to_dict() == original.to_dict()
    assert loaded.run("pizza")["links"] == ["https://example.org/pizza"]


def test_token_secret_refuses_to_serialize() -> None:
    component = JinaWebSearch(api_key=Secret.from_token("secret-token-123"))
    with pytest.raises(ValueError, match="token"):
        component.to_dict()
    # repr(Secret) itself is Haystack's business (2.20's TokenSecret shows the token); ours never does
    assert "secret-token-123" not in repr(component)
    assert "secret-token-123" not in repr(component._client)


# ---------------------------------------------------------------------------------------------- wire
def test_posts_a_json_body_with_query_and_num(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    web_search(emulator, api_key).run("pizza ovens?")
    sent = emulator.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/s/")
    assert sent.json == {"q": "pizza ovens?", "num": 10}
    assert sent.header("Content-Type") == "application/json"
    assert sent.header("Accept") == "application/json"
    assert sent.header("Authorization") == f"Bearer {emulator.api_key}"
    assert not [name for name in sent.headers if name.lower().startswith("x-")]


def test_search_params_reach_the_body_and_headers_the_service_documents(
    emulator: JinaEmulator, api_key: Secret, corpus: Any
) -> None:
    params = {
        "gl": "it",
        "hl": "it",
        "location": "Naples",
        "page": 1,
        "site": ["example.org", "example.com"],
        "respond_with": "no-content",
        "return_format": "text",
        "max_tokens": 500,
    }
    web_search(emulator, api_key, top_k=20, search_params=params).run("pizza")
    sent = emulator.requests[-1]
    assert sent.json == {"q": "pizza", "num": 20, "gl": "it", "hl": "it", "location": "Naples", "page": 1}
    assert {name: value for name, value in sent.headers.items() if name.lower().startswith("x-")} == {
        "X-Site": "example.org, example.com",
        "X-Respond-With": "no-content",
        "X-Return-Format": "text",
        "X-Max-Tokens": "500",
    }


def test_run_params_override_init_params_one_by_one(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    component = web_search(emulator, api_key, top_k=None, search_params={"hl": "en", "site": "example.org"})
    component.run("pizza", search_params={"hl": "it", "site": None, "page": 2})
    sent = emulator.requests[-1]
    assert sent.json == {"q": "pizza", "hl": "it", "page": 2}  # top_k=None: the service picks the number
    assert sent.header("X-Site") is None
    component.run("pizza")
    assert emulator.requests[-1].json == {"q": "pizza", "hl": "en"}
    assert emulator.requests[-1].header("X-Site") == "example.org"


# ---------------------------------------------------------------------------------------------- results
def test_documents_links_and_meta(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    result = web_search(emulator, api_key).run("pizza")
    assert result["links"] == [
        "https://example.org/pizza",
        "https://blog.example.com/pizza-oven",
        "https://example.net/pizza-dough",
    ]
    assert [doc.meta["url"] for doc in result["documents"]] == result["links"]
    first = result["documents"][0]
    assert first.content == "Pizza comes from Naples. It is baked hot."
    assert first.meta == {
        "title": "Pizza",
        "url": "https://example.org/pizza",
        "description": "Pizza comes from Naples.",
        "usage": {"tokens": first.meta["usage"]["tokens"]},
    }
    assert first.meta["usage"]["tokens"] > 0
    tokens = sum(doc.meta["usage"]["tokens"] for doc in result["documents"])
    assert result["meta"] == {"query": "pizza", "usage": {"tokens": tokens}}


def test_top_k_limits_the_results(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    result = web_search(emulator, api_key, top_k=2).run("pizza")
    assert len(result["documents"]) == len(result["links"]) == 2
    assert emulator.requests[-1].json["num"] == 2


def test_site_restricts_the_results(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    links = web_search(emulator, api_key).run("pizza", search_params={"site": "example.com"})["links"]
    assert links == ["https://blog.example.com/pizza-oven"]
    several = web_search(emulator, api_key, search_params={"site": ["example.net", "example.com"]}).run("pizza")
    assert several["links"] == ["https://blog.example.com/pizza-oven", "https://example.net/pizza-dough"]


def test_page_2_continues_the_ranking(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    component = web_search(emulator, api_key, top_k=2)
    first = component.run("pizza")["links"]
    second = component.run("pizza", search_params={"page": 2})["links"]
    assert second == ["https://example.net/pizza-dough"]
    assert not set(first) & set(second)


def test_no_content_gives_descriptions(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    result = web_search(emulator, api_key, search_params={"respond_with": "no-content"}).run("pizza")
    assert [doc.content for doc in result["documents"]] == [
        "Pizza comes from Naples.",
        "A pizza oven burns wood.",
        "Pizza dough rests a day.",
    ]
    assert all("content" not in doc.meta for doc in result["documents"])
    assert result["documents"][0].meta["description"] == "Pizza comes from Naples."


@pytest.mark.parametrize(
    ("return_format", "expected"),
    [
        (None, "Green tea is not fermented. It is steamed."),
        ("content", "Green tea is not fermented. It is steamed."),
        ("markdown", "Green tea is not fermented. It is steamed."),
        ("text", "Green tea is not fermented. It is steamed."),
        ("html", "<html><head><title>Tea</title></head><body><p>Green tea is not fermented. It is steamed.</p>"),
    ],
)
def test_every_return_format_gives_the_page(
    emulator: JinaEmulator, api_key: Secret, corpus: Any, return_format: str | None, expected: str
) -> None:
    params = {"return_format": return_format} if return_format else None
    (document,) = web_search(emulator, api_key, search_params=params).run("green tea")["documents"]
    assert document.content is not None and document.content.startswith(expected)
    assert not {"content", "text", "html"} & set(document.meta)


def test_no_results(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    result = web_search(emulator, api_key).run("quantum chromodynamics")
    assert result == {"documents": [], "links": [], "meta": {"query": "quantum chromodynamics", "usage": {"tokens": 0}}}


@pytest.mark.parametrize("query", ["", "  ", None, 3])
def test_empty_or_non_string_query(emulator: JinaEmulator, api_key: Secret, query: Any) -> None:
    with pytest.raises(ValueError, match="non-empty query"):
        web_search(emulator, api_key).run(query)
    assert emulator.requests == []


# ---------------------------------------------------------------------------------------------- errors
def test_search_requires_a_key(emulator: JinaEmulator, corpus: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    anonymous = requests.post(emulator.search_url, json={"q": "pizza"}, timeout=10)
    assert anonymous.status_code == 401
    monkeypatch.setenv("JINA_API_KEY", "wrong-key-456")
    with pytest.raises(JinaAuthenticationError, match="401") as info:
        web_search(emulator, Secret.from_env_var("JINA_API_KEY")).run("pizza")
    assert "wrong-key-456" not in str(info.value)


def test_transient_errors_are_retried(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    emulator.inject("status", status=503, times=2, path="/s/")
    assert web_search(emulator, api_key).run("pizza")["links"][0] == "https://example.org/pizza"
    assert len(emulator.requests_to("/s/")) == 3
    emulator.inject("status", status=500, detail="boom", path="/s/")
    with pytest.raises(JinaServerError, match="boom"):
        web_search(emulator, api_key, max_retries=0).run("pizza")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"code": 200, "data": {"url": "x"}}, "list of results"),
        ({"code": 200, "data": [{"url": "x"}]}, "neither the 'content' field"),
        ({"code": 402, "readableMessage": "No credits"}, "No credits"),
    ],
)
def test_unexpected_bodies(api_key: Secret, pages: PageServer, body: Any, message: str) -> None:
    pages.post_body = json.dumps(body)  # the stand-in answers any POST with `body`
    with pytest.raises(JinaMalformedResponseError, match=message):
        JinaWebSearch(api_key=api_key, base_url=pages.url + "/search").run("pizza")


# ---------------------------------------------------------------------------------------------- tool, async
def test_component_tool_schema_is_clean(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    tool = ComponentTool(web_search(emulator, api_key, top_k=2), name="web_search")
    schema = tool.parameters
    assert set(schema["properties"]) == {"query", "search_params"}
    assert schema["required"] == ["query"]
    assert schema["properties"]["query"]["type"] == "string"
    assert "search" in schema["properties"]["query"]["description"]
    text = json.dumps(schema).lower()
    for forbidden in ("header", "authorization", "api_key", "secret", "base_url", emulator.api_key or "-"):
        assert forbidden not in text
    result = tool.invoke(query="pizza", search_params={"site": "example.org"})
    assert result["links"] == ["https://example.org/pizza"]
    assert isinstance(result["documents"][0], Document)


def test_run_async(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    component = web_search(emulator, api_key, top_k=1)

    async def main() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(component.run_async("pizza") for _ in range(3))))

    emulator.latency = 0.3
    results = asyncio.run(main())
    assert [result["links"] for result in results] == [["https://example.org/pizza"]] * 3
    assert emulator.max_in_flight == 3, "concurrent run_async calls must overlap"


def test_lifecycle_one_session_across_runs(emulator: JinaEmulator, api_key: Secret, corpus: Any) -> None:
    component = web_search(emulator, api_key)
    component.warm_up()
    session = component._client.session
    component.run("pizza")
    component.run("tea")
    assert component._client.session is session
    component.close()
    component.run("pizza")  # a closed component opens a new session when used again
    component.close()


@pytest.mark.parametrize("return_format", sorted(SERVICE_FIELDS))
def test_every_return_format_of_the_service_table(api_key: Secret, pages: PageServer, return_format: str) -> None:
    field, value = SERVICE_FIELDS[return_format]
    item = {"title": "Page", "url": "https://example.org/", "description": "About the page.", "content": ""}
    item[field] = value
    if return_format == "pageshot":
        item["html"] = "<html>beside the pageshot</html>"
    pages.post_body = json.dumps({"code": 200, "status": 20000, "data": [item, {**item, field: ""}]})
    component = JinaWebSearch(api_key=api_key, base_url=pages.url + "/", search_params={"return_format": return_format})
    with_page, without = component.run("page")["documents"]
    assert with_page.content == value
    assert without.content == "About the page."  # no page text came back: the description
    if field in ("screenshotUrl", "pageshotUrl"):
        assert with_page.meta[field] == value  # an image: its URL in content and in meta
    else:
        assert field not in with_page.meta and "content" not in with_page.meta
    assert pages.requests[-1][1]["X-Return-Format"] == return_format
