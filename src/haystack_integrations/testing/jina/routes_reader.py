"""The emulator's read endpoint: `GET /r/<url>`, and the screenshots it links to (`GET /shots/<name>.png`).

Read fetches the target with `urllib` (any URL the emulator can reach, e.g. a second local server in a
test) and turns HTML into markdown, plain text or cleaned-up HTML with the stdlib `html.parser`. The URL
of a corpus entry is not fetched: the entry is read as a page (title, description, its paragraphs), so
that search results can be read offline.

`Accept: application/json` gives `{"code": 200, "status": 20000, "data": ...}`; anything else gives
text, as the service does. Request headers with a visible effect here:

- `X-Return-Format`: `content` (default: markdown without the page chrome, i.e. `nav`, `header`,
  `footer`, `aside` and `form`, a stand-in for the service's readability filter), `markdown` (the
  whole page), `text` and `html` (the whole page, fields `text` / `html`), `screenshot` and `pageshot`
  (fields `screenshotUrl` / `pageshotUrl`, with `html` beside a pageshot: the URL of a placeholder PNG
  this emulator serves; as text, a 302 redirect to it).
- `X-Target-Selector` / `X-Remove-Selector`: CSS selectors (comma-separated) of what to keep / drop.
  Supported: `tag`, `*`, `#id`, `.class`, `[attr]`, `[attr=value]`, compounds of these, and the
  descendant (` `) and child (`>`) combinators.
- `X-Wait-For-Selector`: nothing to wait for in static HTML; a `warning` says when nothing matches.
- `X-With-Links-Summary`: adds `links` (`{text: url}`, the last link of a text wins; `all` gives
  `[[text, url], ...]` with duplicates).
- `X-With-Images-Summary`: adds `images` (`{"Image N: alt": src}`).
- `X-With-Generated-Alt`: images without alt text get one made from their file name.
- `X-No-Cache`: the fetch sends `Cache-Control: no-cache` and `Pragma: no-cache` to the target.
- `X-Timeout`: seconds the fetch may take (default 10).
"""

from __future__ import annotations

import hashlib
import html
import struct
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from haystack_integrations.testing.jina.reader_common import (
    FIELD_BY_FORMAT,
    IMAGE_FORMATS,
    TEXT_CONTENT_TYPE,
    corpus,
    description,
    envelope,
    flag,
    return_format,
    target,
    tokens,
    wants_json,
)
from haystack_integrations.testing.jina.reader_html import (
    CHROME_TAGS,
    Renderer,
    parse_html,
    parse_selectors,
    remove,
    select,
    serialize,
    squash,
)
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, route

DEFAULT_FETCH_TIMEOUT = 10.0
MAX_FETCH_TIMEOUT = 180.0
MAX_PAGE_BYTES = 5 * 1024 * 1024
SHOTS_PATH = "/shots/"


# ---------------------------------------------------------------------------------------------- read
@dataclass
class Page:
    status: int
    content_type: str
    text: str


def _fetch(url: str, request: RecordedRequest) -> Page:
    timeout = DEFAULT_FETCH_TIMEOUT
    if request.header("X-Timeout"):
        try:
            timeout = min(MAX_FETCH_TIMEOUT, max(1.0, float(request.header("X-Timeout") or "")))
        except ValueError:
            raise ApiError(422, "X-Timeout must be a number of seconds.") from None
    headers = {"User-Agent": "JinaEmulator (a test double)", "Accept": "text/html,text/plain;q=0.9,*/*;q=0.5"}
    if flag(request, "X-No-Cache"):
        headers.update({"Cache-Control": "no-cache", "Pragma": "no-cache"})
    # Percent-encode what a URL may not contain (spaces, non-ASCII) and keep what is already encoded.
    wire_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    local = urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
    # local pages (a test's page server) never go through a proxy the environment may name
    opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if local else []))
    try:
        response = opener.open(urllib.request.Request(wire_url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:  # the API still reads error pages, with a warning
        response = error
    except (OSError, ValueError) as error:  # URLError is an OSError
        reason = getattr(error, "reason", error)
        raise ApiError(422, f"Failed to fetch {url}: {reason}") from None
    with response:
        try:
            body = response.read(MAX_PAGE_BYTES + 1)
        except OSError as error:
            raise ApiError(422, f"Failed to read {url}: {error}") from None
        if len(body) > MAX_PAGE_BYTES:
            raise ApiError(422, f"{url} is larger than the emulator reads ({MAX_PAGE_BYTES} bytes).")
        charset = response.headers.get_content_charset() or "utf-8"
        content_type = response.headers.get_content_type()
        status = response.status if response.status is not None else 200
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return Page(status, content_type, text)


def _corpus_page(emulator: JinaEmulator, url: str) -> Page | None:
    """A corpus entry as a web page: the corpus is the emulator's own small web, so search results can be read."""
    for doc in corpus(emulator):
        if doc["url"] == url:
            title = html.escape(doc["title"])
            paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in doc["content"].split("\n\n"))
            summary = html.escape(description(doc["content"]), quote=True)
            head = f'<title>{title}</title><meta name="description" content="{summary}">'
            return Page(200, "text/html", f"<html><head>{head}</head><body><h1>{title}</h1>{paragraphs}</body></html>")
    return None


def _read(url: str, request: RecordedRequest, emulator: JinaEmulator) -> dict[str, Any]:
    """The read result for `url`: title, description, url, the field of the asked format, usage, extras."""
    return render(_corpus_page(emulator, url) or _fetch(url, request), url, request, emulator)


def read_url(url: str, request: RecordedRequest, emulator: JinaEmulator) -> dict[str, Any]:
    """Read `url` (`https://` is assumed without a scheme, as the service does); 422 for other schemes."""
    if "://" not in url:
        url = "https://" + url
    if urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(422, f"Invalid URL {url!r}: only http and https URLs can be read.")
    return _read(url, request, emulator)


def render(page: Page, url: str, request: RecordedRequest, emulator: JinaEmulator) -> dict[str, Any]:
    """A page (fetched, or posted as a file) as a read result, in the format and with the extras asked for."""
    fmt = return_format(request)
    data: dict[str, Any] = {"title": "", "description": "", "url": url}
    warnings = []
    if page.status >= 400:
        warnings.append(f"Target URL returned error {page.status}")
    generated_alt = bool(flag(request, "X-With-Generated-Alt"))
    # The summaries come from the whole (selected) page, whatever the format; `content` leaves the chrome out.
    summary = Renderer(False, url, generated_alt)
    renderer = Renderer(fmt != "text", url, generated_alt, skipped=CHROME_TAGS if fmt == "content" else frozenset())

    if page.content_type in ("text/html", "application/xhtml+xml"):
        root = parse_html(page.text)
        title = next((n for n in root.iter() if n.tag == "title"), None)
        data["title"] = squash(title.text()) if title is not None else ""
        for meta in root.iter():
            if meta.tag == "meta" and meta.attrs.get("name", meta.attrs.get("property", "")).lower() in (
                "description",
                "og:description",
            ):
                data["description"] = squash(meta.attrs.get("content", ""))
                break
        if request.header("X-Remove-Selector"):
            remove(root, parse_selectors(request.header("X-Remove-Selector") or "", "X-Remove-Selector"))
        wait_for = request.header("X-Wait-For-Selector")
        if wait_for and not select(root, parse_selectors(wait_for, "X-Wait-For-Selector")):
            warnings.append(f"No element matched X-Wait-For-Selector {wait_for!r}; the page was read as it was.")
        parts = [root]
        if request.header("X-Target-Selector"):
            wanted = request.header("X-Target-Selector") or ""
            parts = select(root, parse_selectors(wanted, "X-Target-Selector"))
            if not parts:
                warnings.append(f"No element matched X-Target-Selector {wanted!r}.")
        for part in parts:
            summary.blocks(part)
        markup = "\n".join(serialize(part) for part in parts)
        content = markup if fmt == "html" else "\n\n".join(block for part in parts for block in renderer.blocks(part))
    elif page.content_type.startswith("text/") or page.content_type in ("application/json", "application/xml"):
        markup = f"<pre>{html.escape(page.text, quote=False)}</pre>"
        content = markup if fmt == "html" else page.text
    else:
        raise ApiError(422, f"{url} is {page.content_type}; the emulator reads HTML and text only.")

    if fmt in IMAGE_FORMATS:
        data[FIELD_BY_FORMAT[fmt]] = _shot_url(emulator, fmt, url)
        if fmt == "pageshot":
            data["html"] = markup
    else:
        data[FIELD_BY_FORMAT[fmt]] = content
    data.update(_summaries(request, summary))
    if warnings:
        data["warning"] = "\n".join(warnings)
    data["usage"] = {"tokens": tokens(content)}
    return data


def _summaries(request: RecordedRequest, summary: Renderer) -> dict[str, Any]:
    """`links` and `images`, when their summaries are asked for."""
    extras: dict[str, Any] = {}
    links = flag(request, "X-With-Links-Summary")
    if links == "all":
        extras["links"] = [[text, href] for text, href in summary.links]
    elif links:
        # assignment keeps a text's first position and its last URL: the last link of a text wins
        extras["links"] = {}
        for text, href in summary.links:
            extras["links"][text] = href
    if flag(request, "X-With-Images-Summary"):
        extras["images"] = {
            f"Image {number}" + (f": {alt}" if alt else ""): src
            for number, (alt, src) in enumerate(summary.images, start=1)
        }
    return extras


def page_as_text(data: dict[str, Any]) -> str:
    """The text answer of a read: the bare HTML or text, or markdown under a small header with the summaries."""
    if "content" not in data:
        return str(data.get("html", data.get("text", "")))
    head = [f"Title: {data['title']}", f"URL Source: {data['url']}"]
    head += [f"Warning: {line}" for line in data.get("warning", "").split("\n") if line]
    tail = []
    if "images" in data:
        tail.append("\n".join(["Images:", *(f"- ![{k}]({v})" for k, v in data["images"].items())]))
    if "links" in data:
        pairs = data["links"] if isinstance(data["links"], list) else data["links"].items()
        tail.append("\n".join(["Links/Buttons:", *(f"- [{k}]({v})" for k, v in pairs)]))
    return "\n\n".join([*head, f"Markdown Content:\n{data['content']}", *tail]) + "\n"


@route("GET", "/r/")
def read(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    url = target(request, "/r/", plus_is_space=False)
    if not url:
        raise ApiError(422, "No URL to read: append the URL to /r/.")
    data = read_url(url, request, emulator)
    if wants_json(request):
        return Reply(body=envelope(data))
    for fmt in IMAGE_FORMATS:
        if FIELD_BY_FORMAT[fmt] in data:  # as text, the service redirects to the image
            return Reply(302, b"", TEXT_CONTENT_TYPE, headers={"Location": data[FIELD_BY_FORMAT[fmt]]})
    return Reply(body=page_as_text(data), content_type=TEXT_CONTENT_TYPE)


# ---------------------------------------------------------------------------------------------- screenshots
def _shot_url(emulator: JinaEmulator, fmt: str, url: str) -> str:
    name = hashlib.sha1(f"{fmt} {url}".encode(), usedforsecurity=False).hexdigest()[:16]
    return f"{emulator.url}{SHOTS_PATH}{fmt}-{name}.png"


def placeholder_png(width: int = 8, height: int = 8) -> bytes:
    """A small grey PNG, built with zlib: the emulator renders no pages, it only gives screenshots a URL."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@route("GET", SHOTS_PATH)
def shot(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    if not request.path.split("?", 1)[0].endswith(".png"):
        raise ApiError(404, f"No screenshot at {request.path}")
    return Reply(body=placeholder_png(), content_type="image/png")
