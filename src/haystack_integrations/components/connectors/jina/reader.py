"""JinaReaderConnector: reads a URL, searches the web, or checks a statement with the Jina Reader API.

```python
from haystack_integrations.components.connectors.jina import JinaReaderConnector

# JINA_API_KEY must be set
reader = JinaReaderConnector(mode="read", target_selector="article", with_links_summary=True)
document = reader.run(query="https://example.com")["documents"][0]
print(document.meta["title"], document.content[:80])
```

- `read`: one Document with the page in the return format; meta holds `title`, `description`, `url`,
  `usage`, and `links` / `images` when their summaries are asked for. For `screenshot` and `pageshot`
  the content is the image's URL (also in meta `screenshotUrl` / `pageshotUrl`).
- `search`: one Document per result, best first, with the same meta. For web search in agents and
  pipelines prefer `JinaWebSearch` (Haystack's web-search contract, with result count, site, country
  and language), and `JinaReaderFetcher` to read many URLs.
- `ground` (deprecated): one Document whose content is the reason; meta holds `factuality`, `result`,
  `references` and `usage`.
- With `json_response=False`: one Document with the raw text answer; meta holds `content_type`
  and `query`. For `screenshot` and `pageshot` the service answers with a redirect to the image:
  the content is the image's URL, never its bytes.
"""

import warnings
from typing import Any
from urllib.parse import urljoin

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.client import Answer
from haystack_integrations.common.jina.component_utils import ReaderComponentBase
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.errors import JinaError, with_hint
from haystack_integrations.common.jina.reader import (
    ACCEPT_JSON,
    ACCEPT_TEXT,
    CONTENT_FIELD_BY_FORMAT,
    IMAGE_FIELDS,
    as_prefix,
    check_target_answer,
    check_target_url,
    envelope,
    malformed,
    page_document,
    reader_url,
    request_headers,
    result_list,
    return_format_of,
)
from haystack_integrations.components.connectors.jina.reader_mode import JinaReaderMode

READER_ENDPOINT_URL_BY_MODE = {
    JinaReaderMode.READ: "https://r.jina.ai/",
    JinaReaderMode.SEARCH: "https://s.jina.ai/",
    JinaReaderMode.GROUND: "https://g.jina.ai/",
}
#: Grounding is gone from Jina's documentation since 2025-04; whether g.jina.ai still answers is unknown.
GROUND_DEPRECATION = (
    "JinaReaderConnector mode 'ground' is deprecated: grounding (g.jina.ai) has been missing from Jina's "
    "documentation since April 2025 and may be retired. It is kept for compatibility."
)
RETIRED_STATUS = frozenset({404, 410})


@component
class JinaReaderConnector(ReaderComponentBase):
    """
    Reads a web page (`mode="read"`, the query is its URL), searches the web (`"search"`) or checks a
    statement (`"ground"`, deprecated) with Jina's Reader API. It returns Documents: the page text as
    content, and meta `title`, `description`, `url`, `usage`.
    """

    #: what the published package writes
    always_serialized = frozenset({"api_key", "mode", "json_response"})

    def __init__(
        self,
        mode: JinaReaderMode | str,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        json_response: bool = True,
        *,
        base_url: str | None = None,
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
        timeout: float | None = None,
        max_retries: int | None = None,
        token_budget: int | None = None,
        retain_images: str | None = None,
        locale: str | None = None,
        with_iframe: bool | None = None,
        with_shadow_dom: bool | None = None,
        respond_with: str | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        """
        Create a JinaReaderConnector.

        The reader options (`return_format` to `respond_with`) are sent as `X-...` request headers; `None` and
        `False` send nothing, so the service's defaults apply. Headers passed to `run` override them.

        :param mode: `read`, `search` or `ground`, as a `JinaReaderMode` or a string.
            - `read`: fetch the URL given as query and return its content.
            - `search`: search the web for the query and return the content of the best pages.
            - `ground`: check the statement given as query against web sources. Deprecated: it has been
              missing from Jina's documentation since April 2025 (a `DeprecationWarning` says so).
        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param json_response: `True` asks for JSON and gives Documents with structured meta; `False`
            asks for text and gives one Document holding the raw answer.
        :param base_url: The prefix to which the URL-encoded query is appended, for a proxy, a self-hosted
            Reader or a test server, e.g. `http://localhost:3000/` (a missing trailing `/` is added).
            `None` uses the mode's hosted endpoint (`https://r.jina.ai/`, `https://s.jina.ai/`,
            `https://g.jina.ai/`), which `JINA_READER_BASE_URL` / `JINA_SEARCH_BASE_URL` replace when set.
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
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more.
        :raises ValueError: If `mode` or a reader option is not valid (a value with CR or LF included).
        """
        self.mode = mode if isinstance(mode, JinaReaderMode) else JinaReaderMode.from_str(mode)
        if self.mode is JinaReaderMode.GROUND:
            warnings.warn(GROUND_DEPRECATION, DeprecationWarning, stacklevel=3)  # 3: past ComponentMeta.__call__
        check_base_url(base_url, like=READER_ENDPOINT_URL_BY_MODE[self.mode])
        self.json_response = json_response
        self.base_url = base_url
        self._keep_reader_options(locals(), accept=ACCEPT_JSON if json_response else ACCEPT_TEXT)
        self._connect(api_key, timeout, max_retries, max_concurrency)

    @property
    def endpoint(self) -> str:
        """The prefix the URL-encoded query is appended to, always ending in "/" (so the query is a path)."""
        return as_prefix(self.base_url if self.base_url is not None else READER_ENDPOINT_URL_BY_MODE[self.mode])

    def _get_telemetry_data(self) -> dict[str, Any]:
        return {"mode": str(self.mode)}

    @component.output_types(documents=list[Document])
    def run(self, query: str, headers: dict[str, str] | None = None) -> dict[str, list[Document]]:
        """
        Read the URL, run the search, or ground the statement given as `query`.

        :param query: A URL (`read`), a search query (`search`) or a statement (`ground`). It is
            URL-encoded whole, so spaces, `#`, `?`, `/` and non-ASCII characters reach the service intact.
        :param headers: Extra reader option headers, e.g. `{"X-Locale": "de-DE"}`; they override the
            component's options. `Authorization` and connection headers cannot be set here.
        :returns: `documents`: see the class description.
        :raises ValueError: If `query` is empty, or a header is protected, has a CR or LF in its value or
            characters outside Latin-1.
        :raises JinaInputError: In `read` mode, if `query` is not an absolute http(s) URL; in any mode, if it
            is `.` or `..` (it would climb out of the reader prefix). Nothing is sent then.
        :raises JinaTargetError: In `read` mode, if the page's site answered an HTTP error (say 404): the
            Reader would return the error page as content. `target_status` holds the status.
        :raises JinaError: If the call fails or the answer is not what the endpoint promises. In `ground`
            mode a 404 or 410 says that the grounding endpoint may be retired.
        """
        return self._call(self._run(query, headers))

    @component.output_types(documents=list[Document])
    async def run_async(self, query: str, headers: dict[str, str] | None = None) -> dict[str, list[Document]]:
        """
        Like `run`, without blocking the event loop.

        :param query: A URL (`read`), a search query (`search`) or a statement (`ground`).
        :param headers: Extra reader option headers; they override the component's options.
        :returns: `documents`, as `run`.
        """
        return await self._call_async(self._run(query, headers))

    async def _run(self, query: str, headers: dict[str, str] | None) -> dict[str, list[Document]]:
        if not isinstance(query, str):
            msg = f"JinaReaderConnector expects a string query, got {type(query).__name__}"
            raise TypeError(msg)
        if not query.strip():
            msg = "JinaReaderConnector needs a non-empty query: a URL, a search query or a statement."
            raise ValueError(msg)
        if self.mode is JinaReaderMode.READ:
            query = check_target_url(query, "The query")
        url = reader_url(self.endpoint, query)
        sent = request_headers(self._headers, headers)
        return_format = return_format_of(sent)
        json_answer = ACCEPT_JSON in sent.get("Accept", "").lower()
        # A screenshot or pageshot as text is a 302 to the image: take its Location, never the bytes.
        # Any other redirect (a proxy, http -> https) is followed as usual.
        image_as_text = not json_answer and CONTENT_FIELD_BY_FORMAT.get(return_format) in IMAGE_FIELDS
        try:
            response = await self._client.send("GET", url, headers=sent, allow_redirects=not image_as_text)
        except JinaError as error:
            if self.mode is JinaReaderMode.GROUND and error.status_code in RETIRED_STATUS:
                raise _retired(error) from error
            raise

        if not json_answer:
            document = _text_document(response, url, query, return_format)
            if self.mode is JinaReaderMode.READ:
                check_target_answer(_text_warnings(document.content), query, url)
            return {"documents": [document]}

        body = envelope(response, url)
        data = body["data"]
        if self.mode is JinaReaderMode.SEARCH:
            results = result_list(data, response, url)
            return {"documents": [page_document(item, return_format, response, url) for item in results]}
        if self.mode is JinaReaderMode.GROUND:
            return {"documents": [_ground_document(data, response, url)]}
        if isinstance(data, dict):  # the target's error page is a failure, not content
            check_target_answer(data.get("warning"), query, url)
        return {"documents": [page_document(data, return_format, response, url)]}


def _text_document(response: Answer, url: str, query: str, return_format: str) -> Document:
    """The text answer as one Document; a redirect (screenshot, pageshot) gives the image's URL instead."""
    content_type = response.headers.get("Content-Type", "")
    meta: dict[str, Any] = {"content_type": content_type, "query": query}
    if response.is_redirect:  # only asked for screenshots and pageshots, whose redirect is the image
        location = urljoin(url, response.headers["Location"])
        meta[CONTENT_FIELD_BY_FORMAT[return_format]] = location
        return Document(content=location, meta=meta)
    if 300 <= response.status_code < 400:
        raise malformed(response, url, "a redirect without a Location")
    if "charset" not in content_type.lower():
        response.encoding = "utf-8"  # requests would assume Latin-1 for text/* without a charset
    return Document(content=response.text, meta=meta)


def _text_warnings(text: str | None) -> str:
    """The `Warning:` lines of a text answer's header (before the content, which may quote anything)."""
    head = (text or "").split("\nMarkdown Content:", 1)[0] if "\nMarkdown Content:" in (text or "") else ""
    return "\n".join(line for line in head.splitlines() if line.startswith("Warning:"))


def _retired(error: JinaError) -> JinaError:
    """The same error (class and attributes kept), saying that the grounding endpoint may be retired."""
    return with_hint(
        error,
        "the grounding endpoint (g.jina.ai) may be retired: it has been missing from Jina's documentation "
        "since April 2025.",
    )


def _ground_document(item: Any, response: Answer, url: str) -> Document:
    """The grounding verdict: the reason as content; factuality, result, references and usage as meta."""
    if not isinstance(item, dict) or not isinstance(item.get("reason"), str):
        raise malformed(response, url, "the grounding result should be a JSON object with a 'reason' string")
    meta = dict(item)
    return Document(content=meta.pop("reason"), meta=meta)
