from collections.abc import Mapping
from typing import Any, Literal

from haystack import Document, component
from haystack.utils import Secret
from typing_extensions import TypedDict  # pydantic (ComponentTool's schema) needs it on Python < 3.12

from haystack_integrations.common.jina.component_utils import JinaComponentBase
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.reader import (
    ACCEPT_JSON,
    ENUMERATED_OPTIONS,
    envelope,
    header_host,
    page_document,
    result_list,
    return_format_of,
    usage_tokens,
)
from haystack_integrations.common.jina.reader_options import text_header_value

SEARCH_URL = "https://s.jina.ai/"
#: The service returns at most 20 results per request ("num" or "count", up to 20).
MAX_TOP_K = 20
#: `search_params` that travel in the JSON body, as the service names them.
BODY_PARAMS = ("gl", "hl", "location", "page")
#: `search_params` that travel as headers.
HEADER_BY_PARAM = {
    "site": "X-Site",
    "respond_with": "X-Respond-With",
    "return_format": "X-Return-Format",
    "max_tokens": "X-Max-Tokens",
}
SEARCH_PARAMS = (*BODY_PARAMS, *HEADER_BY_PARAM)
#: The return formats of the Reader's table (reference/README.md); a search fills the same fields.
ReturnFormat = Literal["content", "markdown", "html", "text", "screenshot", "pageshot"]


class SearchParams(TypedDict, total=False):
    """
    Options of one web search, all optional: `site` (a domain or a list of domains to search within), `gl`
    (country code, e.g. `us`), `hl` (language code, e.g. `de`), `location` (where the search is made from,
    e.g. `Berlin`), `page` (the results page, from 1), `respond_with` (`no-content`: titles, URLs and
    descriptions only), `return_format` (how pages are returned; `screenshot` and `pageshot` give image
    URLs), `max_tokens` (the most tokens a page may contribute).
    """

    site: str | list[str] | None
    gl: str | None
    hl: str | None
    location: str | None
    page: int | None
    respond_with: Literal["no-content"] | None
    return_format: ReturnFormat | None
    max_tokens: int | None


#: The values a Literal-typed search parameter may take, checked at run time as well (lower case: the service
#: lower-cases them). `return_format`: the Reader's table, as for the other Reader components (`ReturnFormat`
#: spells the same values for the type checker and the tool schema; a test keeps them equal). `respond_with`:
#: the reference names only `no-content` for a search (the Reader's other modes, `readerlm-v2`, read a page).
ALLOWED_VALUES = {"respond_with": ("no-content",), "return_format": ENUMERATED_OPTIONS["return_format"]}


@component
class JinaWebSearch(JinaComponentBase):
    """
    Searches the web (Jina's s.jina.ai) for a query and returns the results, best first, as Documents with
    their URLs: each holds the page text (or, with `respond_with="no-content"`, the description) and meta
    `title`, `url`, `description`, `usage`. `search_params` narrows the search: `site`, country `gl`,
    language `hl`, `location`, `page`.
    """

    #: the parameters of its first release; later ones are written only when set
    always_serialized = frozenset({"api_key", "top_k", "search_params", "base_url", "timeout", "max_retries"})

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        top_k: int | None = 10,
        search_params: SearchParams | None = None,
        *,
        base_url: str = SEARCH_URL,
        timeout: float | None = None,
        max_retries: int | None = None,
        allowed_domains: list[str] | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        """
        Create a JinaWebSearch.

        :param api_key: The Jina API key (search requires one); by default read from `JINA_API_KEY`.
        :param top_k: How many results to ask for and return, 1 to 20 (sent as `num`). `None` leaves
            the number to the service.
        :param search_params: Options for every search; `run` can override them one by one.
            - `site`: a domain, or a list of them, to search within (`X-Site`).
            - `gl`: country code, e.g. `us`; `hl`: language code, e.g. `de`; `location`: where the
              search is made from, e.g. `Berlin`; `page`: the results page, from 1.
            - `respond_with`: `"no-content"` gives titles, URLs and descriptions only (cheaper, faster;
              for agents that read pages selectively, e.g. with `JinaReaderFetcher`).
            - `return_format`: `content` (default: the pages' main content as markdown), `markdown`,
              `html` or `text`.
            - `max_tokens`: the most tokens a page may contribute (`X-Max-Tokens`).
        :param base_url: Where the search is POSTed, for a proxy or a test server.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param allowed_domains: Domains to search within, as Haystack's `SerperDevWebSearch` takes them; sent
            as the `site` filter (`X-Site`). A `site` in `run`'s `search_params` replaces it for that search.
        :raises ValueError: If `top_k` is not between 1 and 20, a search parameter is not valid, or both
            `allowed_domains` and `search_params["site"]` are given.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more.
        """
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K):
            msg = f"top_k must be a whole number from 1 to {MAX_TOP_K} (the service's maximum), or None; got {top_k!r}"
            raise ValueError(msg)
        self.top_k = top_k
        self.search_params = search_params
        check_base_url(base_url, like=SEARCH_URL)
        self.base_url = base_url
        self.allowed_domains = allowed_domains
        self._params = _checked_params(search_params or {})
        if allowed_domains is not None:
            if self._params.get("site") is not None:
                msg = "Give the domains to search within once: allowed_domains or search_params['site'], not both."
                raise ValueError(msg)
            self._params.update(_checked_params({"site": allowed_domains}))
        self._connect(api_key, timeout, max_retries, max_concurrency)

    @component.output_types(documents=list[Document], links=list[str], meta=dict[str, Any])
    def run(self, query: str, search_params: SearchParams | None = None) -> dict[str, Any]:
        """
        Search the web.

        :param query: What to search for, as you would type it into a search engine.
        :param search_params: Options for this search only, each replacing the component's own (a value of
            None removes it): `site` (a domain or a list of domains to search within), `gl` (country code),
            `hl` (language code), `location`, `page` (from 1), `respond_with` (`"no-content"` for titles,
            URLs and descriptions only), `return_format`, `max_tokens`.
        :returns: `documents`: one per result, best first, with the page text (or the description) and meta
            `title`, `url`, `description`, `usage`; `links`: their URLs in the same order; `meta`: `query`
            and the `usage` of the search.
        :raises ValueError: If the query is empty or a search parameter is not valid.
        :raises JinaError: If the search fails.
        """
        return self._call(self._run(query, search_params))

    @component.output_types(documents=list[Document], links=list[str], meta=dict[str, Any])
    async def run_async(self, query: str, search_params: SearchParams | None = None) -> dict[str, Any]:
        """
        Like `run`, without blocking the event loop.

        :param query: What to search for, as you would type it into a search engine.
        :param search_params: Options for this search only; see `run`.
        :returns: `documents`, `links` and `meta`, as `run`.
        """
        return await self._call_async(self._run(query, search_params))

    async def _run(self, query: str, search_params: SearchParams | None) -> dict[str, Any]:
        if not isinstance(query, str) or not query.strip():
            msg = f"JinaWebSearch needs a non-empty query string, got {query!r}"
            raise ValueError(msg)
        params = {**self._params, **_checked_params(search_params or {})}
        payload: dict[str, Any] = {"q": query}
        if self.top_k is not None:
            payload["num"] = self.top_k
        payload.update({name: params[name] for name in BODY_PARAMS if params.get(name) is not None})
        headers = {"Accept": ACCEPT_JSON}
        headers.update(
            {
                header: _header_value(params[name])
                for name, header in HEADER_BY_PARAM.items()
                if params.get(name) is not None
            }
        )

        response = await self._client.send("POST", self.base_url, json_body=payload, headers=headers)
        body = envelope(response, self.base_url)
        results = result_list(body["data"], response, self.base_url)[: self.top_k]
        return_format = return_format_of(headers)
        documents = [page_document(item, return_format, response, self.base_url) for item in results]
        links = [str(doc.meta["url"]) for doc in documents if doc.meta.get("url")]
        meta = {"query": query, "usage": {"tokens": usage_tokens(body, results)}}
        return {"documents": documents, "links": links, "meta": meta}


def _header_value(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _checked_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The search parameters, checked; `None` values are kept (they unset an init value in `run`)."""
    if not isinstance(params, Mapping):
        msg = f"search_params must be a dict, got {type(params).__name__}"
        raise ValueError(msg)
    unknown = sorted(str(name) for name in params if name not in SEARCH_PARAMS)
    if unknown:
        msg = (
            f"Unknown search_params {', '.join(unknown)}. Known: {', '.join(SEARCH_PARAMS)} "
            "(the number of results is top_k)."
        )
        raise ValueError(msg)
    checked: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            checked[name] = None
        elif name in ("page", "max_tokens"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"search_params[{name!r}] must be a whole number of at least 1, got {value!r}"
                raise ValueError(msg)
            checked[name] = value
        elif name == "site":
            sites = [value] if isinstance(value, str) else value
            if (
                not isinstance(sites, list | tuple)
                or not sites
                or not all(isinstance(s, str) and s.strip() for s in sites)
            ):
                msg = f"search_params['site'] must be a domain or a non-empty list of domains, got {value!r}"
                raise ValueError(msg)
            # Several sites go in one X-Site header, comma-separated (what repeated headers amount to in HTTP).
            # Host names outside ASCII travel IDNA-encoded, the standard encoding of host names.
            checked[name] = [header_host("search_params['site'] (X-Site)", s) for s in sites]
        else:
            checked[name] = text_header_value(f"search_params[{name!r}]", value, ALLOWED_VALUES.get(name))
    return checked
