from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
from haystack import Document, component
from haystack.utils import Secret
from requests.structures import CaseInsensitiveDict

from haystack_integrations.common.jina.client import JinaClient, parse_json
from haystack_integrations.common.jina.component_utils import JinaComponentBase, in_thread, to_dict
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.errors import JinaMalformedResponseError
from haystack_integrations.components.connectors.jina.reader_mode import JinaReaderMode

READER_ENDPOINT_URL_BY_MODE = {
    JinaReaderMode.READ: "https://r.jina.ai/",
    JinaReaderMode.SEARCH: "https://s.jina.ai/",
    JinaReaderMode.GROUND: "https://g.jina.ai/",
}

# Where a read or search result keeps its text, by return format: `content` (markdown, the default),
# `text`, `html`, the image URL of a screenshot; `description` when the content was left out.
CONTENT_FIELDS = ("content", "text", "html", "pageshotUrl", "screenshotUrl", "description")
ACCEPT_JSON = "application/json"
ACCEPT_TEXT = "text/plain"


@component
class JinaReaderConnector(JinaComponentBase):
    """
    Reads a URL, searches the web, or checks a statement with the Jina Reader API, and returns Documents.

    ```python
    from haystack_integrations.components.connectors.jina import JinaReaderConnector

    # JINA_API_KEY must be set
    reader = JinaReaderConnector(mode="read", target_selector="article", with_links_summary=True)
    document = reader.run(query="https://example.com")["documents"][0]
    print(document.meta["title"], document.content[:80])
    ```

    - `read`: one Document with the page's content; meta holds `title`, `description`, `url`, `usage`,
      and `links` / `images` when their summaries are asked for.
    - `search`: one Document per result, best first, with the same meta.
    - `ground`: one Document whose content is the reason; meta holds `factuality`, `result`,
      `references` and `usage`.
    - With `json_response=False`: one Document with the raw text answer; meta holds `content_type`
      and `query`.
    """

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
    ) -> None:
        """
        Create a JinaReaderConnector.

        The reader options below are sent as the documented `X-...` request headers; `None` and `False`
        send nothing, so the API's defaults apply. Headers passed to `run` override them.

        :param mode: `read`, `search` or `ground`, as a `JinaReaderMode` or a string.
            - `read`: fetch the URL given as query and return its content.
            - `search`: search the web for the query and return the content of the best pages.
            - `ground`: check the statement given as query against web sources.
        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param json_response: `True` asks for JSON and gives Documents with structured meta; `False`
            asks for text and gives one Document holding the raw answer.
        :param base_url: The prefix to which the URL-encoded query is appended, for a proxy, a self-hosted
            Reader or a test server, e.g. `http://localhost:3000/` (a missing trailing `/` is added).
            `None` uses the mode's hosted endpoint (`https://r.jina.ai/`, `https://s.jina.ai/`,
            `https://g.jina.ai/`), which `JINA_READER_BASE_URL` / `JINA_SEARCH_BASE_URL` replace when set.
        :param return_format: `X-Return-Format`: `markdown` (the API's default), `html`, `text`,
            `screenshot` or `pageshot`. For the last two the Document's content is the image URL.
        :param target_selector: `X-Target-Selector`: CSS selector(s) of the part of the page to return.
        :param remove_selector: `X-Remove-Selector`: CSS selector(s) of elements to leave out.
        :param wait_for_selector: `X-Wait-For-Selector`: CSS selector(s) to wait for before reading.
        :param with_links_summary: `X-With-Links-Summary`: `True` adds the page's links to meta `links`
            (link text to URL); `"all"` keeps every link, duplicates included, as `[text, url]` pairs.
        :param with_images_summary: `X-With-Images-Summary`: add the page's images to meta `images`.
        :param with_generated_alt: `X-With-Generated-Alt`: caption images that have no alt text.
        :param no_cache: `X-No-Cache`: fetch the page again instead of using the API's cached copy.
        :param reader_timeout: `X-Timeout`: seconds the API may wait for the page to load (1 to 180).
            Keep `timeout` above it.
        :param engine: `X-Engine`: how the API fetches the page, e.g. `browser`, `direct` or
            `cf-browser-rendering`.
        :param timeout: Seconds to wait for the API's answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :raises ValueError: If `mode` or a reader option is not valid.
        """
        self.mode = mode if isinstance(mode, JinaReaderMode) else JinaReaderMode.from_str(mode)
        check_base_url(base_url)
        self.api_key = api_key
        self.json_response = json_response
        self.base_url = base_url
        self.return_format = return_format
        self.target_selector = target_selector
        self.remove_selector = remove_selector
        self.wait_for_selector = wait_for_selector
        self.with_links_summary = with_links_summary
        self.with_images_summary = with_images_summary
        self.with_generated_alt = with_generated_alt
        self.no_cache = no_cache
        self.reader_timeout = reader_timeout
        self.engine = engine
        self.timeout = timeout
        self.max_retries = max_retries
        self._headers = self._option_headers()
        self._client = JinaClient(api_key, timeout=timeout, max_retries=max_retries)

    @property
    def endpoint(self) -> str:
        """The prefix the URL-encoded query is appended to, always ending in "/" (so the query is a path)."""
        prefix = self.base_url if self.base_url is not None else READER_ENDPOINT_URL_BY_MODE[self.mode]
        return prefix if prefix.endswith("/") else prefix + "/"

    def _option_headers(self) -> dict[str, str]:
        """The request headers for the reader options, checked once here."""
        headers = {"Accept": ACCEPT_JSON if self.json_response else ACCEPT_TEXT}
        texts = {"X-Return-Format": self.return_format, "X-Engine": self.engine}
        for name, text in texts.items():
            if text is not None:
                if not isinstance(text, str) or not text.strip():
                    msg = f"{name} must be a non-empty string, got {text!r}"
                    raise ValueError(msg)
                headers[name] = text.strip()
        selectors = {
            "X-Target-Selector": self.target_selector,
            "X-Remove-Selector": self.remove_selector,
            "X-Wait-For-Selector": self.wait_for_selector,
        }
        for name, selector in selectors.items():
            if selector:
                headers[name] = _selector_header(name, selector)
        if self.with_links_summary not in (False, True, "all"):
            msg = f"with_links_summary must be True, False or 'all', got {self.with_links_summary!r}"
            raise ValueError(msg)
        # The API takes any non-empty value of a flag header as "on", even "false": send only the flags set.
        flags = {
            "X-With-Links-Summary": self.with_links_summary,
            "X-With-Images-Summary": self.with_images_summary,
            "X-With-Generated-Alt": self.with_generated_alt,
            "X-No-Cache": self.no_cache,
        }
        headers.update({name: "true" if value is True else str(value) for name, value in flags.items() if value})
        if self.reader_timeout is not None:
            if isinstance(self.reader_timeout, bool) or not isinstance(self.reader_timeout, int):
                msg = f"reader_timeout must be a whole number of seconds, got {self.reader_timeout!r}"
                raise ValueError(msg)
            if not 1 <= self.reader_timeout <= 180:
                msg = f"reader_timeout must be between 1 and 180 seconds, got {self.reader_timeout}"
                raise ValueError(msg)
            headers["X-Timeout"] = str(self.reader_timeout)
        return headers

    def _get_telemetry_data(self) -> dict[str, Any]:
        return {"mode": str(self.mode)}

    def to_dict(self) -> dict[str, Any]:
        """
        Serialize this component to a dictionary.

        :returns: The dictionary; the API key appears only as the name of its environment variable.
        """
        return to_dict(
            self,
            self.api_key,
            mode=str(self.mode),
            json_response=self.json_response,
            base_url=self.base_url,
            return_format=self.return_format,
            target_selector=self.target_selector,
            remove_selector=self.remove_selector,
            wait_for_selector=self.wait_for_selector,
            with_links_summary=self.with_links_summary,
            with_images_summary=self.with_images_summary,
            with_generated_alt=self.with_generated_alt,
            no_cache=self.no_cache,
            reader_timeout=self.reader_timeout,
            engine=self.engine,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    @component.output_types(documents=list[Document])
    def run(self, query: str, headers: dict[str, str] | None = None) -> dict[str, list[Document]]:
        """
        Read the URL, run the search, or ground the statement given as `query`.

        :param query: A URL (`read`), a search query (`search`) or a statement (`ground`). It is
            URL-encoded whole, so spaces, `#`, `?`, `/` and non-ASCII characters reach the API intact.
        :param headers: Extra request headers, e.g. `{"X-Locale": "de-DE"}`. They override the headers
            of the reader options (and `Accept`); names are case-insensitive.
        :returns: `documents`: see the class description.
        :raises ValueError: If `query` is empty or only whitespace.
        :raises JinaError: If the API call fails or the answer is not what the endpoint promises.
        """
        if not isinstance(query, str):
            msg = f"JinaReaderConnector expects a string query, got {type(query).__name__}"
            raise TypeError(msg)
        if not query.strip():
            msg = "JinaReaderConnector needs a non-empty query: a URL, a search query or a statement."
            raise ValueError(msg)
        url = self.endpoint + quote(query, safe="")
        request_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(self._headers)
        request_headers.update(headers or {})
        response = self._client.request("GET", url, headers=request_headers)

        if not self.json_response:
            content_type = response.headers.get("Content-Type", "")
            if "charset" not in content_type.lower():
                response.encoding = "utf-8"  # requests would assume Latin-1 for text/* without a charset
            meta = {"content_type": content_type, "query": query}
            return {"documents": [Document(content=response.text, meta=meta)]}

        data = _envelope_data(response, url)
        if self.mode is JinaReaderMode.SEARCH:
            if not isinstance(data, list):
                raise _malformed(response, url, f"'data' should be a list of results, got {type(data).__name__}")
            return {"documents": [_page_document(item, response, url) for item in data]}
        if self.mode is JinaReaderMode.GROUND:
            return {"documents": [_ground_document(data, response, url)]}
        return {"documents": [_page_document(data, response, url)]}

    @component.output_types(documents=list[Document])
    async def run_async(self, query: str, headers: dict[str, str] | None = None) -> dict[str, list[Document]]:
        """
        Like `run`, without blocking the event loop.

        :param query: A URL (`read`), a search query (`search`) or a statement (`ground`).
        :param headers: Extra request headers; they override the reader options' headers.
        :returns: `documents`, as `run`.
        """
        return await in_thread(self.run, query, headers)


def _selector_header(name: str, selector: str | list[str]) -> str:
    """One selector as is; several joined with ", ", the separator the API splits on."""
    selectors = [selector] if isinstance(selector, str) else selector
    if not isinstance(selectors, list | tuple) or not all(isinstance(s, str) and s.strip() for s in selectors):
        msg = f"{name} must be a CSS selector or a list of them, got {selector!r}"
        raise ValueError(msg)
    return ", ".join(s.strip() for s in selectors)


def _malformed(response: requests.Response, url: str, problem: str) -> JinaMalformedResponseError:
    endpoint = url.split("?", 1)[0]
    msg = f"Jina Reader API answered HTTP {response.status_code} from {endpoint} with an unexpected body: {problem}"
    return JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint)


def _envelope_data(response: requests.Response, url: str) -> Any:
    """The `data` of a `{"code": 200, "status": ..., "data": ...}` answer."""
    body = parse_json(response, url)
    if not isinstance(body, dict):
        raise _malformed(response, url, f"expected a JSON object, got {type(body).__name__}")
    code = body.get("code", 200)
    if code != 200:
        message = body.get("readableMessage") or body.get("message") or body.get("detail") or ""
        raise _malformed(response, url, f"'code' is {code!r}, not 200" + (f": {message}" if message else ""))
    if body.get("data") is None:
        raise _malformed(response, url, "the 'data' field is missing")
    return body["data"]


def _page_document(item: Any, response: requests.Response, url: str) -> Document:
    """A read result or one search result: its content (whatever the format) and everything else as meta."""
    if not isinstance(item, Mapping):
        raise _malformed(response, url, f"a page should be a JSON object, got {type(item).__name__}")
    meta = dict(item)
    field = next((name for name in CONTENT_FIELDS if isinstance(meta.get(name), str)), None)
    if field is None:
        raise _malformed(response, url, f"the page has none of the fields {', '.join(CONTENT_FIELDS)}")
    return Document(content=meta.pop(field), meta=meta)


def _ground_document(item: Any, response: requests.Response, url: str) -> Document:
    """The grounding verdict: the reason as content; factuality, result, references and usage as meta."""
    if not isinstance(item, Mapping) or not isinstance(item.get("reason"), str):
        raise _malformed(response, url, "the grounding result should be a JSON object with a 'reason' string")
    meta = dict(item)
    return Document(content=meta.pop("reason"), meta=meta)
