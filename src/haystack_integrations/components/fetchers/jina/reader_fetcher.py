"""JinaReaderFetcher: reads web pages with the Jina Reader (r.jina.ai), several at once.

Each Document holds the page in the return format (by default its main content as markdown) and
meta `title`, `description`, `url`, `usage`. Connect it to `JinaWebSearch.links` to search, then read.

```python
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher

# JINA_API_KEY must be set
fetcher = JinaReaderFetcher(max_concurrency=4, raise_on_failure=False)
result = fetcher.run(urls=["https://example.com", "https://example.org"])
print([doc.meta.get("title") for doc in result["documents"]], result["meta"]["failed_urls"])
```
"""

from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import ReaderComponentBase
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.reader import (
    check_target_answer,
    check_target_url,
    envelope,
    failure_report,
    page_document,
    reader_url,
    return_format_of,
    usage_tokens,
)

READER_URL = "https://r.jina.ai/"


@component
class JinaReaderFetcher(ReaderComponentBase):
    """
    Reads web pages with Jina's Reader (r.jina.ai), several at once, and returns one Document per URL,
    in input order: the page's main content as markdown, with meta `title`, `description`, `url`, `usage`.
    Connect it to `JinaWebSearch.links` to search, then read.
    """

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        *,
        base_url: str = READER_URL,
        max_concurrency: int | None = None,
        raise_on_failure: bool = True,
        timeout: float | None = None,
        max_retries: int | None = None,
        return_format: str | None = None,
        target_selector: str | list[str] | None = None,
        remove_selector: str | list[str] | None = None,
        wait_for_selector: str | list[str] | None = None,
        with_links_summary: bool | str = False,
        with_images_summary: bool = False,
        with_generated_alt: bool = False,
        no_cache: bool = False,
        reader_timeout: int | None = None,
        engine: str | None = None,
        token_budget: int | None = None,
        retain_images: str | None = None,
        locale: str | None = None,
        with_iframe: bool | None = None,
        with_shadow_dom: bool | None = None,
        respond_with: str | None = None,
    ) -> None:
        """
        Create a JinaReaderFetcher.

        The reader options (`return_format` to `respond_with`) are sent as `X-...` headers; `None` and `False`
        send nothing, so the service's defaults apply.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param base_url: The prefix to which each URL-encoded URL is appended, for a proxy or a test server.
        :param max_concurrency: The most pages read at once (over all concurrent runs of this instance).
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more.
        :param raise_on_failure: `True` raises the first failure. `False` returns a Document without content
            for each URL that failed (meta `url`, `error` and `status`) and lists them in `meta["failed_urls"]`.
            A page whose site answers an error (say 404) is a failure (`JinaTargetError`, `status` 404), not
            a Document holding the error page; a URL that is not an absolute http(s) URL is a
            `JinaInputError`, found before anything is sent.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param return_format: `X-Return-Format`: `content` (the service's default: markdown of the page's main content,
            readability-filtered), `markdown` (the whole page, unfiltered), `html`, `text`, `screenshot` or `pageshot`.
            For the last two the Document's content is the image URL.
        :param target_selector: `X-Target-Selector`: CSS selector(s) of the part of the page to return.
        :param remove_selector: `X-Remove-Selector`: CSS selector(s) of elements to leave out.
        :param wait_for_selector: `X-Wait-For-Selector`: CSS selector(s) to wait for before reading.
        :param with_links_summary: `X-With-Links-Summary`: `True` adds the page's links to meta `links` (link text to
            URL; for a text that several links share, the last one); `"all"` keeps every link, duplicates included, as
            `[text, url]` pairs.
        :param with_images_summary: `X-With-Images-Summary`: add the page's images to meta `images`.
        :param with_generated_alt: `X-With-Generated-Alt`: caption images that have no alt text.
        :param no_cache: `X-No-Cache`: fetch the page again instead of using the service's cached copy.
        :param reader_timeout: `X-Timeout`: seconds the service may wait for the page to load (1 to 180). Keep the
            component's `timeout` above it.
        :param engine: `X-Engine`: how the service fetches the page: `browser`, `direct` or `cf-browser-rendering`.
        :param token_budget: `X-Token-Budget`: the most tokens the request may cost; larger pages fail.
        :param retain_images: `X-Retain-Images`: which images stay in the content, e.g. `none`.
        :param locale: `X-Locale`: the browser locale the page is read with, e.g. `de-DE`.
        :param with_iframe: `X-With-Iframe`: include the content of iframes.
        :param with_shadow_dom: `X-With-Shadow-Dom`: include the content of shadow DOM.
        :param respond_with: `X-Respond-With`, e.g. `readerlm-v2` (convert with Jina's ReaderLM) or `no-content`
            (search: titles, URLs and descriptions only).
        :raises ValueError: If a reader option or `max_concurrency` is not valid.
        """
        check_base_url(base_url, like=READER_URL)
        self.base_url = base_url
        self.raise_on_failure = raise_on_failure
        self._keep_reader_options(locals())
        self._connect(api_key, timeout, max_retries, max_concurrency)

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, urls: list[str]) -> dict[str, Any]:
        """
        Read web pages.

        :param urls: The URLs of the pages to read, e.g. the links of a web search.
        :returns: `documents`: one per URL, in the order of `urls`, with the page's text and meta `title`,
            `description`, `url`, `usage`; `meta`: `failed_urls` (`{"url", "error", "status"}` for each URL
            that could not be read, with `raise_on_failure=False`) and the `usage` of all reads.
        :raises TypeError: If `urls` is not a list of strings.
        :raises ValueError: If a URL is empty.
        :raises JinaInputError: With `raise_on_failure=True`, if a URL is not an absolute http(s) URL (nothing
            is sent then).
        :raises JinaError: With `raise_on_failure=True`, the first read that fails.
        """
        return self._call(self._run(urls))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, urls: list[str]) -> dict[str, Any]:
        """
        Like `run`, without blocking the event loop.

        :param urls: The URLs of the pages to read.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._run(urls))

    async def _run(self, urls: list[str]) -> dict[str, Any]:
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            msg = f"JinaReaderFetcher expects a list of URL strings, got {urls!r:.200}"
            raise TypeError(msg)
        if not all(url.strip() for url in urls):
            msg = f"JinaReaderFetcher got an empty URL at position {[url.strip() for url in urls].index('')}"
            raise ValueError(msg)
        # a URL that is no URL fails before anything is sent (or, not raising, in order with the rest)
        outcome = await self._check_then_run_each(
            len(urls), lambda p: check_target_url(urls[p], f"URL {p}"), lambda _, url: self._read_one(url)
        )
        documents: list[Document] = []
        failed: list[dict[str, Any]] = []
        for position, url in enumerate(urls):
            if position in outcome.errors:
                report = failure_report(outcome.errors[position])
                failed.append({"url": url, **report})
                documents.append(Document(content=None, meta={"url": url, **report}))
            else:
                documents.append(outcome.values[position])
        usage = usage_tokens({}, [doc.meta for doc in documents])
        return {"documents": documents, "meta": {"failed_urls": failed, "usage": {"tokens": usage}}}

    async def _read_one(self, url: str) -> Document:
        endpoint = reader_url(self.base_url, url)
        headers = self._headers  # made once a request: what is sent is what the answer is read as
        response = await self._client.send("GET", endpoint, headers=headers)
        data = envelope(response, endpoint)["data"]
        if isinstance(data, dict):  # the target's error page is a failure, not content
            check_target_answer(data.get("warning"), url, endpoint)
        return page_document(data, return_format_of(headers), response, endpoint)
