"""Where requests go: the hosted endpoints, and the environment variables that retarget them.

A component's `base_url` defaults to a hosted endpoint (`https://api.jina.ai/v1/embeddings`,
`https://r.jina.ai/`, ...). When it was not given, or equals such a default (as in YAML written by
earlier releases), these variables move it, the way `OPENAI_BASE_URL` does for OpenAI:

| variable | replaces | example value |
|---|---|---|
| `JINA_API_BASE_URL` | the origin `https://api.jina.ai` (the path `/v1/...` is kept) | `http://127.0.0.1:8080` |
| `JINA_READER_BASE_URL` | the prefix `https://r.jina.ai/` (the target URL is appended) | `http://127.0.0.1:8080/r/` |
| `JINA_SEARCH_BASE_URL` | the prefix `https://s.jina.ai/` (the query is appended) | `http://127.0.0.1:8080/s/` |

Any other `base_url` wins over them. They are read when a request is sent (and checked by `warm_up`),
never frozen at construction, so a pipeline loaded from YAML follows a variable set later.
The grounding endpoint `https://g.jina.ai/` has no variable: Jina removed it from its documentation
in 2025-04; a `base_url` still retargets it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

HOSTED_API_ORIGIN = "https://api.jina.ai"
HOSTED_READER_URL = "https://r.jina.ai/"
HOSTED_SEARCH_URL = "https://s.jina.ai/"
HOSTED_GROUND_URL = "https://g.jina.ai/"

API_BASE_URL_ENV = "JINA_API_BASE_URL"
READER_BASE_URL_ENV = "JINA_READER_BASE_URL"
SEARCH_BASE_URL_ENV = "JINA_SEARCH_BASE_URL"

#: hosted prefix -> the variable that replaces it. The api prefix ends without "/" so its paths are kept;
#: the reader prefixes end with "/" so a value without the trailing "/" still yields a valid URL.
OVERRIDES: Mapping[str, str] = {
    HOSTED_API_ORIGIN: API_BASE_URL_ENV,
    HOSTED_READER_URL: READER_BASE_URL_ENV,
    HOSTED_SEARCH_URL: SEARCH_BASE_URL_ENV,
}


#: hosted prefix -> where the emulator serves it; the examples of `check_base_url`
_LOCAL_EXAMPLES = {
    HOSTED_API_ORIGIN: "http://127.0.0.1:8080",
    HOSTED_READER_URL: "http://127.0.0.1:8080/r/",
    HOSTED_SEARCH_URL: "http://127.0.0.1:8080/s/",
    HOSTED_GROUND_URL: "http://127.0.0.1:8080/g/",
}


def check_base_url(
    base_url: str | None, name: str = "base_url", like: str = HOSTED_API_ORIGIN + "/v1/embeddings"
) -> None:
    """
    Raise `ValueError` unless `base_url` is `None` or an absolute http(s) URL with a host.

    :param name: What to call the value in the message (a parameter or an environment variable).
    :param like: The hosted value it stands for (an endpoint, an origin or a prefix): the message's examples.
    """
    if base_url is None:
        return
    if isinstance(base_url, str):
        parts = urlsplit(base_url.strip())
        if parts.scheme in ("http", "https") and parts.netloc and base_url == base_url.strip():
            return
    local = next(
        (here + like[len(hosted) :] for hosted, here in _LOCAL_EXAMPLES.items() if like.startswith(hosted)), ""
    )
    shape = (
        " (an origin: /v1/... is appended)"
        if like == HOSTED_API_ORIGIN
        else " (a prefix ending in '/': the rest is appended)"
        if like.endswith("/")
        else ""
    )
    examples = f"{like} or {local}" if local and local != like else like
    msg = f"{name} must be an absolute http(s) URL such as {examples}{shape}, got {base_url!r}"
    raise ValueError(msg)


def overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """
    The hosted prefixes that the environment retargets, with their replacements (checked).

    :raises ValueError: If a variable is set to something that is not an absolute http(s) URL.
    """
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for hosted, variable in OVERRIDES.items():
        value = environ.get(variable, "").strip()
        if not value:
            continue
        check_base_url(value, variable, like=hosted)
        found[hosted] = value.rstrip("/") + ("/" if hosted.endswith("/") else "")
    return found


def resolve_url(url: str, environ: Mapping[str, str] | None = None) -> str:
    """
    The URL to call for `url`: a URL on a hosted endpoint moved where the environment says, else `url`.

    Reusable by every component: pass the full URL the component would call on the hosted API
    (`https://api.jina.ai/v1/rerank`, `https://s.jina.ai/<query>`). `JinaClient.request` applies it
    to every request, so components built on the client get it without calling it themselves.
    """
    for hosted, replacement in overrides(environ).items():
        if url == hosted or url.startswith(hosted if hosted.endswith("/") else hosted + "/"):
            return replacement + url[len(hosted) :]
    return url


def called_endpoint(url: str) -> str:
    """`url` as it is actually called (moved by the environment, see `resolve_url`), without its query: for messages."""
    return without_query(resolve_url(url))


def without_query(url: str) -> str:
    """`url` without its query string: how messages name an endpoint."""
    return url.split("?", 1)[0]


def not_found_hint(url: str) -> str:
    """What to tell a user whose request answered 404: which URL was called and what base_url should be."""
    return (
        f"The URL called was {url}. Check base_url: for the embedders and the ranker it is the full endpoint "
        f"URL ({HOSTED_API_ORIGIN}/v1/embeddings, {HOSTED_API_ORIGIN}/v1/rerank); for the reader it is the "
        f"prefix the query is appended to, ending in '/' ({HOSTED_READER_URL}). {API_BASE_URL_ENV} is an "
        f"origin without a path (http://127.0.0.1:8080); /v1/... is appended to it."
    )
