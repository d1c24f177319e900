"""The emulator's search endpoint: `GET /s/<query>`, or `POST /s/` with a JSON body.

It ranks `emulator.corpus` (a list of `{"url", "title", "content"}`) lexically, BM25-style. As the
service does, it requires the key (401 without), takes `{"q", "num" or "count" (at most 20), "gl", "hl",
"location", "page", "provider"}` in a POST body (`gl`, `hl`, `location` and `provider` are checked and
recorded but change nothing here), and reads the headers `X-Site` (comma-separated sites: results from
those hosts and their subdomains only), `X-Respond-With: no-content` (titles, URLs and descriptions)
and `X-Return-Format`. Every result carries `content`, set to `""` unless the format is `content` or
`markdown`; `html` and `text` results carry the page in their own field. The emulator is stricter than
the service in one way: body fields it does not know are a 422, so a client's typo shows.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from haystack_integrations.testing.jina.lexical import STOPWORDS, scores, terms
from haystack_integrations.testing.jina.reader_common import (
    FIELD_BY_FORMAT,
    TEXT_CONTENT_TYPE,
    corpus,
    description,
    envelope,
    return_format,
    target,
    tokens,
    wants_json,
)
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

# Results when the request names no count (an assumption: the reference gives no default).
DEFAULT_RESULTS = 5
MAX_RESULTS = 20
BODY_TEXT_FIELDS = ("gl", "hl", "location", "provider")
BODY_FIELDS = ("q", "num", "count", "page", *BODY_TEXT_FIELDS)
LABELS = {"content": "Markdown Content", "markdown": "Markdown Content", "text": "Text Content", "html": "HTML Content"}


def _whole(body: dict[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ApiError(422, f"'{name}' must be a whole number of at least {low}, got {value!r}.")
    return value


def _options(body: dict[str, Any]) -> tuple[str, int, int]:
    """The query, the number of results (capped at 20) and the page, from a POST body."""
    unknown = sorted(set(body) - set(BODY_FIELDS))
    if unknown:
        raise ApiError(422, f"Unknown search fields {', '.join(unknown)}; the fields are {', '.join(BODY_FIELDS)}.")
    query = body.get("q")
    if not isinstance(query, str) or not query.strip():
        raise ApiError(422, "'q' must be a non-empty string.")
    for name in BODY_TEXT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(422, f"'{name}' must be a string, got {body[name]!r}.")
    num = _whole(body, "num", 1)
    count = _whole(body, "count", 1)
    wanted = num if num is not None else count if count is not None else DEFAULT_RESULTS
    return query.strip(), min(wanted, MAX_RESULTS), _whole(body, "page", 1) or 1


def _on_sites(url: str, sites: list[str]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for site in sites:
        site_host, _, site_path = site.lower().removeprefix("https://").removeprefix("http://").partition("/")
        if (host == site_host or host.endswith("." + site_host)) and parts.path.lower().startswith("/" + site_path):
            return True
    return False


def _ranked(emulator: JinaEmulator, query: str, sites: list[str]) -> list[dict[str, str]]:
    docs = [doc for doc in corpus(emulator) if not sites or _on_sites(doc["url"], sites)]
    # a result must share a content word with the query: "is" and "the" alone do not make a page relevant
    keywords = " ".join(word for word in terms(query) if word not in STOPWORDS)
    texts = [f"{doc['title']}\n{doc['content']}" for doc in docs]
    relevance = scores(keywords, texts, listwise=True) if docs and keywords else [0.0] * len(docs)
    order = sorted((i for i in range(len(docs)) if relevance[i] > 0), key=lambda i: (-relevance[i], i))
    return [docs[i] for i in order]


def _result(doc: dict[str, str], fmt: str, with_content: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "title": doc["title"],
        "url": doc["url"],
        "description": description(doc["content"]),
        "content": "",
    }
    if with_content:
        page = doc["content"]
        if fmt == "html":
            paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in page.split("\n\n"))
            page = f"<html><head><title>{html.escape(doc['title'])}</title></head><body>{paragraphs}</body></html>"
        result[FIELD_BY_FORMAT[fmt]] = page
    result["usage"] = {"tokens": tokens(result.get(FIELD_BY_FORMAT[fmt]) or result["description"])}
    return result


def _answer(emulator: JinaEmulator, request: RecordedRequest, query: str, num: int, page: int) -> Reply:
    fmt = return_format(request, images=False)
    with_content = (request.header("X-Respond-With") or "").strip().lower() != "no-content"
    sites = [site.strip() for site in (request.header("X-Site") or "").split(",") if site.strip()]
    start = (page - 1) * num
    results = [_result(doc, fmt, with_content) for doc in _ranked(emulator, query, sites)[start : start + num]]
    if wants_json(request):
        total = sum(result["usage"]["tokens"] for result in results)
        return Reply(body=envelope(results, meta={"usage": {"tokens": total}}))
    chunks = []
    for number, result in enumerate(results, start=1):
        lines = [
            f"[{number}] Title: {result['title']}",
            f"[{number}] URL Source: {result['url']}",
            f"[{number}] Description: {result['description']}",
        ]
        if with_content:
            lines.append(f"[{number}] {LABELS[fmt]}:\n{result[FIELD_BY_FORMAT[fmt]]}")
        chunks.append("\n".join(lines))
    return Reply(body="\n\n".join(chunks) + "\n", content_type=TEXT_CONTENT_TYPE)


@route("GET", "/s/")
def search(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    query = target(request, "/s/", plus_is_space=True)
    if not query:
        raise ApiError(422, 'No search query: append it to /s/, or POST {"q": ...} to /s/.')
    return _answer(emulator, request, query, DEFAULT_RESULTS, 1)


@route("POST", "/s/")
def search_post(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    if request.path.split("?", 1)[0] != "/s/":
        raise ApiError(422, "POST the search to /s/ itself, with the query as 'q' in the JSON body.")
    query, num, page = _options(json_body(request))
    return _answer(emulator, request, query, num, page)
