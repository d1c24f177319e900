"""The fetcher and the connector report failed pages and refuse bad targets before sending (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from haystack.utils import Secret
from page_server import PageServer

from haystack_integrations.common.jina.errors import JinaInputError, JinaTargetError
from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.testing.jina import JinaEmulator


def fetcher(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaReaderFetcher:
    return JinaReaderFetcher(api_key=api_key, base_url=emulator.reader_url, **kwargs)


# ---------------------------------------------------------------------------------------------- target errors
def test_a_page_that_answers_404_is_a_failed_url_with_its_status(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer
) -> None:
    good = pages.add("/good", "<html><head><title>Good</title></head><body><p>Fine.</p></body></html>")
    missing = pages.url + "/missing"
    result = fetcher(emulator, api_key, raise_on_failure=False).run([good, missing, good])
    documents = result["documents"]
    assert [doc.meta["url"] for doc in documents] == [good, missing, good]
    assert documents[1].content is None and documents[1].meta["status"] == 404
    assert [doc.meta["title"] for doc in (documents[0], documents[2])] == ["Good", "Good"]
    (failure,) = result["meta"]["failed_urls"]
    assert failure["url"] == missing and failure["status"] == 404
    assert failure["error"].startswith("JinaTargetError: ") and "HTTP 404" in failure["error"]
    assert len(emulator.requests_to("/r/")) == 3  # the target's error is not retried


def test_a_page_that_answers_an_error_raises_by_default(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer
) -> None:
    pages.add("/boom", "<h1>Server error</h1>", status=500)
    with pytest.raises(JinaTargetError, match="answered HTTP 500") as failure:
        fetcher(emulator, api_key, max_concurrency=1).run([pages.url + "/boom"])
    assert failure.value.target_status == 500


def test_an_api_failure_reports_the_api_status(emulator: JinaEmulator, api_key: Secret, pages: PageServer) -> None:
    good = pages.add("/good", "<p>Fine.</p>")
    emulator.inject("status", status=402, detail="No credits", path="/r/")
    result = fetcher(emulator, api_key, raise_on_failure=False, max_concurrency=1).run([good, good])
    assert result["meta"]["failed_urls"][0]["status"] == 402
    assert result["documents"][1].content == "Fine."


# ---------------------------------------------------------------------------------------------- not a URL
@pytest.mark.parametrize(
    "bad", ["not a url", "example.com/page", "ftp://example.com/f", "file:///etc/passwd", "http://"]
)
def test_a_string_that_is_no_http_url_fails_before_sending(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer, bad: str
) -> None:
    good = pages.add("/good", "<p>Fine.</p>")
    with pytest.raises(JinaInputError, match=r"URL 1 .* not an absolute http\(s\) URL"):
        fetcher(emulator, api_key).run([good, bad])
    assert emulator.requests == []  # not even the good URL was sent
    with pytest.raises(JinaInputError, match="not an absolute http"):
        JinaReaderConnector("read", api_key=api_key, base_url=emulator.reader_url).run(bad)
    assert emulator.requests == []


def test_without_raise_on_failure_a_bad_url_is_reported_and_never_sent(
    emulator: JinaEmulator, api_key: Secret, pages: PageServer
) -> None:
    good = pages.add("/good", "<p>Fine.</p>")
    result = fetcher(emulator, api_key, raise_on_failure=False).run(["not a url", good])
    (failure,) = result["meta"]["failed_urls"]
    assert failure == {"url": "not a url", "error": failure["error"], "status": None}
    assert failure["error"].startswith("JinaInputError: URL 0 'not a url'")
    assert result["documents"][1].content == "Fine."
    assert len(emulator.requests) == 1


def test_a_bare_domain_gets_a_hint(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(JinaInputError, match=r"did you mean 'https://example\.com'"):
        JinaReaderConnector("read", api_key=api_key, base_url=emulator.reader_url).run("example.com")


# ---------------------------------------------------------------------------------------------- dot segments
@pytest.mark.parametrize("target", ["..", ".", "..."])
@pytest.mark.parametrize("mode", ["read", "search"])
def test_dot_targets_never_climb_out_of_the_reader_prefix(
    api_key: Secret, pages: PageServer, target: str, mode: str
) -> None:
    # a proxy in front of the Reader: `/proxy/jina/r/..` must not become `GET /proxy/jina/` with the key
    component = JinaReaderConnector(mode, api_key=api_key, base_url=f"{pages.url}/proxy/jina/r/")
    with pytest.raises(JinaInputError):
        component.run(target)
    assert pages.requests == []


def test_dots_inside_a_target_are_one_segment(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [{"url": "https://example.org/a", "title": "A", "content": "dots and more dots"}]
    JinaReaderConnector("search", api_key=api_key, base_url=emulator.search_url).run("../dots")
    assert emulator.requests[-1].path == "/s/..%2Fdots"


# ---------------------------------------------------------------------------------------------- enumerated options
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"return_format": "pdf"}, "return_format must be one of 'content', 'markdown'"),
        ({"engine": "warp"}, "engine must be one of 'browser', 'direct', 'cf-browser-rendering'"),
        ({"retain_images": "some"}, "retain_images must be one of 'none', 'all'"),
    ],
)
@pytest.mark.parametrize("make", [JinaReaderFetcher, lambda **kw: JinaReaderConnector("read", **kw)])
def test_enumerated_options_are_checked_at_construction(
    api_key: Secret, make: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(api_key=api_key, **options)


def test_enumerated_options_ignore_case_and_spaces(api_key: Secret) -> None:
    component = JinaReaderFetcher(api_key=api_key, return_format=" Markdown ", engine="BROWSER")
    assert component._headers["X-Return-Format"] == "Markdown"  # sent as given; the service lower-cases


def test_web_search_return_format_is_checked(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="search_params\\['return_format'\\] must be one of"):
        JinaWebSearch(api_key=api_key, search_params={"return_format": "pdf"})


# ---------------------------------------------------------------------------------------------- non-Latin-1 headers
def test_a_non_ascii_site_travels_idna_encoded(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [{"url": "https://例え.jp/a", "title": "Rei", "content": "an example page"}]
    JinaWebSearch(api_key=api_key, base_url=emulator.search_url, search_params={"site": ["例え.jp/blog", "a.de"]}).run(
        "example"
    )
    assert emulator.requests[-1].header("X-Site") == "xn--r8jz45g.jp/blog, a.de"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"target_selector": "[title='例え']"}, "target_selector"),
        ({"remove_selector": ["nav", "#目次"]}, "remove_selector"),
        ({"locale": "日本語"}, "locale"),
    ],
)
def test_header_values_outside_latin1_are_refused_naming_the_option(
    api_key: Secret, options: dict[str, Any], named: str
) -> None:
    for make in (JinaReaderFetcher, lambda **kw: JinaReaderConnector("read", **kw)):
        with pytest.raises(ValueError, match=f"{named} .*only Latin-1") as failure:
            make(api_key=api_key, **options)
        assert not isinstance(failure.value, UnicodeError)


def test_latin1_header_values_are_sent(emulator: JinaEmulator, api_key: Secret, pages: PageServer) -> None:
    url = pages.add("/p", "<main><p class='café'>Kaffee</p></main>")
    component = JinaReaderConnector("read", api_key=api_key, base_url=emulator.reader_url)
    component.run(url, headers={"X-Locale": "fr-FR", "X-Note": "café"})
    assert emulator.requests[-1].header("X-Note") is not None


@pytest.mark.parametrize(
    ("headers", "message"),
    [({"X-Ünicode": "1"}, "not a valid HTTP header name"), ({"X-Locale": "日本"}, "'X-Locale' .*only Latin-1")],
)
def test_run_headers_outside_latin1_are_refused(
    emulator: JinaEmulator, api_key: Secret, headers: dict[str, str], message: str
) -> None:
    component = JinaReaderConnector("read", api_key=api_key, base_url=emulator.reader_url)
    with pytest.raises(ValueError, match=message):
        component.run("https://example.org/", headers=headers)
    assert emulator.requests == []
