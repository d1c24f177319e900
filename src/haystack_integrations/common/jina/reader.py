"""The Reader service (r.jina.ai, s.jina.ai) as the components need it, in one place.

- the reader options (`return_format`, selectors, flags, ...) and the `X-...` headers they become;
- checks that keep header values on one line (a CR or LF would let a value inject further headers);
- which per-run headers a caller may add (never `Authorization`);
- where a result keeps its text for each return format, and how a result becomes a Document.

The field table, the flag semantics and the `X-Timeout` bound come from the Reader notes in Jina's
reference (the service's own source).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from haystack import Document
from multidict import CIMultiDict as CaseInsensitiveDict

from haystack_integrations.common.jina.endpoints import called_endpoint
from haystack_integrations.common.jina.errors import JinaInputError, JinaMalformedResponseError, JinaTargetError
from haystack_integrations.common.jina.http.answer import Answer, parse_json
from haystack_integrations.common.jina.reader_options import (
    ENUMERATED_OPTIONS,
    MAX_READER_TIMEOUT,
    READER_OPTIONS,
    ReaderOptions,
    check_header_value,
    option_headers,
)

ACCEPT_JSON = "application/json"
ACCEPT_TEXT = "text/plain"


#: Where a read or search result keeps the page, by `X-Return-Format`. `content` is the service's
#: default (readability-filtered markdown); `markdown` is unfiltered and lands in the same field.
CONTENT_FIELD_BY_FORMAT = {
    "content": "content",
    "markdown": "content",
    "html": "html",
    "text": "text",
    "screenshot": "screenshotUrl",
    "pageshot": "pageshotUrl",
}
DEFAULT_RETURN_FORMAT = "content"
#: Formats whose result is an image: its URL is the Document's content and stays in meta as well.
IMAGE_FIELDS = frozenset({"screenshotUrl", "pageshotUrl"})
#: Headers a caller may not set per run: the key is the component's, and the connection's own
#: headers are the HTTP client's business. Everything else (reader options, `Accept`, a proxy's own
#: headers) may be added or overridden.
PROTECTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host", "content-length", "transfer-encoding", "connection"}
)


def as_prefix(base_url: str) -> str:
    """A reader `base_url` as the prefix the target is appended to: always ending in "/", so the target is a path."""
    return base_url if base_url.endswith("/") else base_url + "/"


def reader_url(base_url: str, target: str) -> str:
    """
    The URL that reads (or searches for) `target`: the prefix, then `target` percent-encoded as one segment.

    :raises JinaInputError: If `target` is `.` or `..`: `quote` leaves dots alone, clients and proxies may un-escape
        `%2E` and remove dot segments, so the request would go to the prefix's parent (with the key).
    """
    segment = quote(target, safe="")
    if segment.strip(".") == "":
        msg = f"{target!r} cannot be read or searched: a path segment of only dots would leave the reader prefix"
        raise JinaInputError(msg)
    return as_prefix(base_url) + segment


def check_target_url(url: str, what: str = "URL") -> str:
    """
    `url` stripped, if it is an absolute http(s) URL with a host; else a `JinaInputError` naming it.

    Checked before sending: the service answers anything else with a 500, which the client would retry.
    """
    stripped = url.strip()
    try:
        parts = urlsplit(stripped)
        has_host = bool(parts.hostname)
    except ValueError:  # e.g. an invalid port or IPv6 literal
        has_host = False
    if parts.scheme.lower() not in ("http", "https") or not has_host:
        hint = f" (did you mean 'https://{stripped}'?)" if "://" not in stripped and "." in stripped else ""
        msg = f"{what} {url!r} is not an absolute http(s) URL{hint}; the Reader reads only those"
        raise JinaInputError(msg)
    return stripped


def header_host(name: str, value: str) -> str:
    """
    A host name (with an optional path after it) for a header: non-ASCII labels IDNA-encoded (`例え.jp` ->
    `xn--r8jz45g.jp`), the standard encoding of host names.

    :raises ValueError: If the host cannot be IDNA-encoded, or the rest is not a valid header value.
    """
    host, slash, rest = value.strip().partition("/")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            msg = f"{name}: {value!r} is not a host name that can be IDNA-encoded"
            raise ValueError(msg) from None
    return check_header_value(name, host + slash + rest)


def _check_header_name(name: Any) -> str:
    # RFC 9110 token characters: ASCII only, no spaces, colons, CR or LF
    if (
        not isinstance(name, str)
        or not name
        or not name.isascii()
        or any(c in ' \t\r\n:()<>@,;"/[]?={}\\' or ord(c) < 33 or ord(c) == 127 for c in name)
    ):
        msg = f"{name!r} is not a valid HTTP header name (ASCII letters, digits and -_.!#$%&'*+^`|~ only)"
        raise ValueError(msg)
    return name


def request_headers(base: Mapping[str, str], extra: Mapping[str, str] | None) -> CaseInsensitiveDict[str]:
    """
    `base` with the caller's per-run `extra` headers on top (names are case-insensitive).

    :raises ValueError: If `extra` names a protected header such as `Authorization`, or a name or
        value is not a valid single-line header.
    """
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(base)
    if extra is None:
        return headers
    if not isinstance(extra, Mapping):
        msg = f"headers must be a dict of header names to values, got {type(extra).__name__}"
        raise ValueError(msg)
    for name, value in extra.items():
        if _check_header_name(name).lower() in PROTECTED_HEADERS:
            msg = f"The header {name!r} cannot be set per run; the component sets it itself."
            raise ValueError(msg)
        if not isinstance(value, str):
            msg = f"The value of header {name!r} must be a string, got {type(value).__name__}"
            raise ValueError(msg)
        headers[name] = check_header_value(f"The header {name!r}", value)
    return headers


def return_format_of(headers: Mapping[str, str]) -> str:
    """The return format a request asks for (lower case), the service's default when none."""
    value = headers.get("X-Return-Format")
    return value.strip().lower() if value and value.strip() else DEFAULT_RETURN_FORMAT


def malformed(response: Answer, url: str, problem: str) -> JinaMalformedResponseError:
    endpoint = called_endpoint(url)
    msg = f"Jina Reader API answered HTTP {response.status_code} from {endpoint} with an unexpected body: {problem}"
    return JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint)


def envelope(response: Answer, url: str) -> dict[str, Any]:
    """The `{"code": 200, "status": ..., "data": ...}` answer, checked to have `data`."""
    body = parse_json(response, url)
    if not isinstance(body, dict):
        raise malformed(response, url, f"expected a JSON object, got {type(body).__name__}")
    code = body.get("code", 200)
    if code != 200:
        message = body.get("readableMessage") or body.get("message") or body.get("detail") or ""
        raise malformed(response, url, f"'code' is {code!r}, not 200" + (f": {message}" if message else ""))
    if body.get("data") is None:
        raise malformed(response, url, "the 'data' field is missing")
    return body


def result_list(data: Any, response: Answer, url: str) -> list[Any]:
    """The results of a search answer's `data`."""
    if not isinstance(data, list):
        raise malformed(response, url, f"'data' should be a list of results, got {type(data).__name__}")
    return data


def page_document(item: Any, return_format: str, response: Answer, url: str) -> Document:
    """
    A read result or one search result as a Document.

    The content is the field the return format fills (`content`, `html`, `text`, `screenshotUrl`,
    `pageshotUrl`), else the description (search results with no-content, pages with no text).
    Everything else is meta. An image's URL is both the content and in meta; never its bytes.
    """
    if not isinstance(item, Mapping):
        raise malformed(response, url, f"a page should be a JSON object, got {type(item).__name__}")
    meta = dict(item)
    # An unknown format (the service may add some) is looked for in `content`, where most land.
    field = CONTENT_FIELD_BY_FORMAT.get(return_format, "content")
    value = meta.get(field)
    description = meta.get("description")
    if field not in IMAGE_FIELDS:
        meta.pop(field, None)
        if isinstance(meta.get("content"), str) and not meta["content"]:
            meta.pop("content")  # search results carry `content: ""` beside the format's own field
    if isinstance(value, str) and value:
        return Document(content=value, meta=meta)
    if isinstance(description, str) and description:
        return Document(content=description, meta=meta)
    if isinstance(value, str) or isinstance(description, str):
        return Document(content=value if isinstance(value, str) else description, meta=meta)
    problem = f"the page has neither the '{field}' field of format {return_format!r} nor a description"
    raise malformed(response, url, problem)


def usage_tokens(body: Mapping[str, Any], results: list[Any]) -> int:
    """The tokens an answer cost: the envelope's `meta.usage.tokens`, else the sum over its results."""
    meta = body.get("meta")
    if isinstance(meta, Mapping) and isinstance(meta.get("usage"), Mapping):
        tokens = meta["usage"].get("tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            return tokens
    total = 0
    for item in results:
        usage = item.get("usage") if isinstance(item, Mapping) else None
        tokens = usage.get("tokens") if isinstance(usage, Mapping) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            total += tokens
    return total


#: How the service says that the target answered an error (it still answers 200, with the error page as
#: content): "Target URL returned error 404: Not Found" in `data.warning` (JSON) or a "Warning:" line (text).
TARGET_ERROR = re.compile(r"Target URL returned error (\d{3})")


def target_status(warning: Any) -> int | None:
    """The target's HTTP error status named in a Reader `warning`, else `None`."""
    match = TARGET_ERROR.search(warning) if isinstance(warning, str) else None
    return int(match.group(1)) if match else None


def check_target_answer(warning: Any, target: str, endpoint: str) -> None:
    """
    Raise `JinaTargetError` if the Reader's `warning` says the target answered an HTTP error.

    :raises JinaTargetError: With `target_status` set; the page read was the target's error page.
    """
    status = target_status(warning)
    if status is not None:
        said = warning.strip()[:300]
        msg = f"The page {target} could not be read: it answered HTTP {status} (the Reader said: {said!r})"
        raise JinaTargetError(msg, endpoint=called_endpoint(endpoint), target_status=status)


def failure_report(error: Exception) -> dict[str, Any]:
    """
    What a component lists for an input that failed: `error` (type and message) and `status`, the HTTP
    status that made it fail (the target's for a `JinaTargetError`, the API's otherwise; `None` when
    nothing answered or the input never left).
    """
    status = getattr(error, "target_status", None) or getattr(error, "status_code", None)
    return {"error": f"{type(error).__name__}: {error}", "status": status}


# The reader options and header checks live in `reader_options.py`; kept importable from here.
__all__ = [
    "ACCEPT_JSON",
    "ACCEPT_TEXT",
    "CONTENT_FIELD_BY_FORMAT",
    "DEFAULT_RETURN_FORMAT",
    "ENUMERATED_OPTIONS",
    "IMAGE_FIELDS",
    "MAX_READER_TIMEOUT",
    "PROTECTED_HEADERS",
    "READER_OPTIONS",
    "ReaderOptions",
    "TARGET_ERROR",
    "as_prefix",
    "check_header_value",
    "check_target_answer",
    "check_target_url",
    "envelope",
    "failure_report",
    "header_host",
    "malformed",
    "option_headers",
    "page_document",
    "reader_url",
    "request_headers",
    "result_list",
    "return_format_of",
    "target_status",
    "usage_tokens",
]
