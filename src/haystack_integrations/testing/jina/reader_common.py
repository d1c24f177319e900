"""What the emulator's read, search and ground routes share: request options, the envelope, the corpus."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, unquote_plus

from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest

# The fields of a result per `X-Return-Format` (the service's default is `content`: readability-filtered
# markdown; `markdown` is the whole page). Screenshots are placeholders here: one small PNG.
FIELD_BY_FORMAT = {
    "content": "content",
    "markdown": "content",
    "text": "text",
    "html": "html",
    "screenshot": "screenshotUrl",
    "pageshot": "pageshotUrl",
}
IMAGE_FORMATS = ("screenshot", "pageshot")
DESCRIPTION_CHARS = 160
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def wants_json(request: RecordedRequest) -> bool:
    return "application/json" in (request.header("Accept") or "").lower()


def flag(request: RecordedRequest, name: str) -> str | None:
    """A flag header's value as the API reads it: any non-empty value switches it on."""
    value = (request.header(name) or "").strip()
    return value.lower() or None


def envelope(data: Any, **extra: Any) -> dict[str, Any]:
    return {"code": 200, "status": 20000, "data": data, **extra}


def return_format(request: RecordedRequest, *, images: bool = True) -> str:
    """`X-Return-Format`, `content` when absent; 422 for a format the emulator does not have."""
    value = (request.header("X-Return-Format") or "content").strip().lower()
    if value not in FIELD_BY_FORMAT or (value in IMAGE_FORMATS and not images):
        known = [name for name in FIELD_BY_FORMAT if images or name not in IMAGE_FORMATS]
        raise ApiError(422, f"X-Return-Format must be one of {', '.join(known)} here; got {value!r}.")
    return value


def target(request: RecordedRequest, prefix: str, *, plus_is_space: bool) -> str:
    """The decoded text after the endpoint's prefix: `request.path` is the raw, still-encoded path."""
    raw = request.path[len(prefix) :]
    if plus_is_space:  # search and ground: a query string is options, `+` may stand for a space
        return unquote_plus(raw.split("?", 1)[0]).strip()
    return unquote(raw).strip()  # read: an unencoded target keeps its own query string


def tokens(text: str) -> int:
    return len(vectors.tokens(text))


def corpus(emulator: JinaEmulator) -> list[dict[str, str]]:
    docs = []
    for index, item in enumerate(emulator.corpus):
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise ApiError(500, f"Emulator corpus item {index} must be a dict with a 'content' string.")
        docs.append({"url": str(item.get("url", "")), "title": str(item.get("title", "")), "content": item["content"]})
    return docs


def description(content: str) -> str:
    first = SENTENCE_END.split(content.strip(), maxsplit=1)[0]
    return first if len(first) <= DESCRIPTION_CHARS else first[: DESCRIPTION_CHARS - 1].rstrip() + "…"
