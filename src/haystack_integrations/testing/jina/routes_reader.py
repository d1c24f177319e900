"""The Reader API: `GET /r/<url>` (read), `GET /s/<query>` (search), `GET /g/<statement>` (ground).

- read fetches the target with `urllib` (any URL the emulator can reach, e.g. a second local server in
  a test) and turns HTML into markdown, plain text or cleaned-up HTML with the stdlib `html.parser`.
- search ranks `emulator.corpus` (a list of `{"url", "title", "content"}`) lexically, BM25-style.
- ground splits the corpus into sentences, keeps those sharing enough of the statement's words as
  references, and calls a reference contradicting when exactly one of the two is negated.

`Accept: application/json` gives `{"code": 200, "status": 20000, "data": ...}`; anything else gives
text, as the real API does. Request headers with a visible effect here:

- `X-Return-Format`: `markdown` (default; JSON field `content`), `text` (field `text`), `html` (`html`).
- `X-Target-Selector` / `X-Remove-Selector`: CSS selectors (comma-separated) of what to keep / drop.
  Supported: `tag`, `*`, `#id`, `.class`, `[attr]`, `[attr=value]`, compounds of these, and the
  descendant (` `) and child (`>`) combinators.
- `X-Wait-For-Selector`: nothing to wait for in static HTML; a `warning` says when nothing matches.
- `X-With-Links-Summary`: adds `links` (`{text: url}`; `all` gives `[[text, url], ...]` with duplicates).
- `X-With-Images-Summary`: adds `images` (`{"Image N: alt": src}`).
- `X-With-Generated-Alt`: images without alt text get one made from their file name.
- `X-No-Cache`: the fetch sends `Cache-Control: no-cache` and `Pragma: no-cache` to the target.
- `X-Timeout`: seconds the fetch may take (default 10).
- `X-Respond-With: no-content` (search): results without their content.
"""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urljoin, urlsplit

from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.lexical import STOPWORDS, scores, terms
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, route

RETURN_FORMATS = ("markdown", "text", "html")
FIELD_BY_FORMAT = {"markdown": "content", "text": "text", "html": "html"}
DEFAULT_FETCH_TIMEOUT = 10.0
MAX_FETCH_TIMEOUT = 180.0
MAX_PAGE_BYTES = 5 * 1024 * 1024
SEARCH_RESULTS = 5
DESCRIPTION_CHARS = 160
MIN_COVERAGE = 0.34  # a sentence must share a third of the statement's words to count as a reference
MAX_REFERENCES = 5
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

# fmt: off
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                       "wbr"})
SKIPPED_TAGS = frozenset({"head", "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object",
                          "button", "select"})
BLOCK_TAGS = frozenset({"address", "article", "aside", "body", "caption", "dd", "details", "div", "dl", "dt",
                        "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "html", "main",
                        "nav", "p", "section", "summary", "table", "tbody", "tfoot", "thead", "tr"})
# fmt: on
HEADINGS = {f"h{level}": level for level in range(1, 7)}
SELF_CLOSING_SIBLINGS = {"p": {"p"}, "li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "tr": {"tr"}}
NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "cannot", "neither"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BREAK = "\x00"  # stands for <br> while whitespace is collapsed


# ---------------------------------------------------------------------------------------------- HTML tree
@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)

    def iter(self) -> Any:
        """This node and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)


class _TreeBuilder(HTMLParser):
    """A forgiving HTML parser: unknown end tags are ignored, open elements close with their parent."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        closes = SELF_CLOSING_SIBLINGS.get(tag)
        if closes and self.stack[-1].tag in closes:
            self.stack.pop()
        node = Node(tag, {name: value or "" for name, value in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(markup: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def serialize(node: Node | str) -> str:
    """The node as HTML again."""
    if isinstance(node, str):
        return html.escape(node, quote=False)
    inner = "".join(serialize(child) for child in node.children)
    if node.tag == "#document":
        return inner
    attrs = "".join(f' {name}="{html.escape(value)}"' for name, value in node.attrs.items())
    if node.tag in VOID_TAGS:
        return f"<{node.tag}{attrs}>"
    return f"<{node.tag}{attrs}>{inner}</{node.tag}>"


# ---------------------------------------------------------------------------------------------- selectors
_COMPOUND = re.compile(r"^(?P<tag>[a-zA-Z][\w-]*|\*)?(?P<rest>(?:[#.][\w-]+|\[[^\]]+\])*)$")
_PART = re.compile(r"([#.])([\w-]+)|\[\s*([\w-]+)\s*(?:=\s*[\"']?([^\"'\]]*)[\"']?\s*)?\]")


@dataclass
class _Compound:
    tag: str | None
    ids: list[str]
    classes: list[str]
    attrs: list[tuple[str, str | None]]

    def matches(self, node: Node) -> bool:
        if node.tag.startswith("#") or (self.tag is not None and node.tag != self.tag):
            return False
        if any(node.attrs.get("id") != wanted for wanted in self.ids):
            return False
        classes = node.attrs.get("class", "").split()
        if any(wanted not in classes for wanted in self.classes):
            return False
        return all(name in node.attrs and (value is None or node.attrs[name] == value) for name, value in self.attrs)


Selector = list[tuple[str, _Compound]]  # (combinator to the previous compound, compound), left to right


def parse_selectors(text: str, header: str) -> list[Selector]:
    """A comma-separated selector list; ApiError 422 on syntax the emulator does not support."""
    selectors = []
    for alternative in text.split(","):
        tokens = re.sub(r"\s*>\s*", " > ", alternative.strip()).split()
        if not tokens:
            continue
        selector: Selector = []
        combinator = " "
        for token in tokens:
            if token == ">":
                combinator = ">"
                continue
            match = _COMPOUND.match(token)
            if match is None:
                raise ApiError(
                    422,
                    f"{header}: the emulator cannot parse {token!r}; it supports tag, *, #id, .class, [attr], "
                    "[attr=value] and the ' ' and '>' combinators.",
                )
            tag = match.group("tag")
            compound = _Compound(None if tag in (None, "*") else tag.lower(), [], [], [])
            for kind, name, attr, value in _PART.findall(match.group("rest")):
                if kind == "#":
                    compound.ids.append(name)
                elif kind == ".":
                    compound.classes.append(name)
                else:
                    compound.attrs.append((attr.lower(), value or None))
            selector.append((combinator, compound))
            combinator = " "
        selectors.append(selector)
    return selectors


def _matches(node: Node, selector: Selector) -> bool:
    *ancestors, (_, last) = selector
    if not last.matches(node):
        return False
    combinator = selector[-1][0]
    current = node.parent
    for previous_combinator, compound in reversed(ancestors):
        if combinator == ">":
            if current is None or not compound.matches(current):
                return False
            current = current.parent
        else:
            while current is not None and not compound.matches(current):
                current = current.parent
            if current is None:
                return False
            current = current.parent
        combinator = previous_combinator
    return True


def select(root: Node, selectors: list[Selector]) -> list[Node]:
    """The outermost elements that match any selector, in document order."""
    found: list[Node] = []
    for node in root.iter():
        if any(_matches(node, selector) for selector in selectors) and not any(_inside(node, f) for f in found):
            found.append(node)
    return found


def _inside(node: Node, ancestor: Node) -> bool:
    current = node.parent
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def remove(root: Node, selectors: list[Selector]) -> None:
    for node in select(root, selectors):
        if node.parent is not None:
            node.parent.children.remove(node)


# ---------------------------------------------------------------------------------------------- rendering
class _Renderer:
    """Turns elements into markdown or plain text, collecting links and images on the way."""

    def __init__(self, markdown: bool, base_url: str, generated_alt: bool) -> None:
        self.markdown = markdown
        self.base_url = base_url
        self.generated_alt = generated_alt
        self.links: list[tuple[str, str]] = []
        self.images: list[tuple[str, str]] = []

    def blocks(self, node: Node) -> list[str]:
        out: list[str] = []
        buffer: list[str] = []

        def flush() -> None:
            text = _squash("".join(buffer))
            if text:
                out.append(text)
            buffer.clear()

        for child in node.children:
            if isinstance(child, str):
                buffer.append(child)
                continue
            tag = child.tag
            if tag in SKIPPED_TAGS:
                continue
            if tag in HEADINGS:
                flush()
                text = _squash(self.inline(child))
                if text:
                    out.append(("#" * HEADINGS[tag] + " " if self.markdown else "") + text)
            elif tag in ("ul", "ol"):
                flush()
                items = [li for li in child.children if isinstance(li, Node) and li.tag == "li"]
                lines = []
                for number, item in enumerate(items, start=1):
                    text = _squash(self.inline(item))
                    if text:
                        bullet = (f"{number}. " if tag == "ol" else "- ") if self.markdown else ""
                        lines.append(bullet + text)
                if lines:
                    out.append("\n".join(lines))
            elif tag == "pre":
                flush()
                text = child.text().strip("\n")
                if text.strip():
                    out.append(f"```\n{text}\n```" if self.markdown else text)
            elif tag == "blockquote":
                flush()
                inner = "\n\n".join(self.blocks(child))
                if inner:
                    out.append("\n".join("> " + line for line in inner.split("\n")) if self.markdown else inner)
            elif tag == "hr":
                flush()
                if self.markdown:
                    out.append("* * *")
            elif tag in BLOCK_TAGS or tag in ("li", "td", "th"):
                flush()
                out.extend(self.blocks(child))
            else:
                buffer.append(self.inline(child))
        flush()
        return out

    def inline(self, node: Node | str) -> str:
        if isinstance(node, str):
            return node
        tag = node.tag
        if tag in SKIPPED_TAGS:
            return ""
        if tag == "br":
            return _BREAK
        if tag == "img":
            return self._image(node)
        inner = "".join(self.inline(child) for child in node.children)
        if tag in HEADINGS or tag in BLOCK_TAGS or tag in ("li", "ul", "ol", "pre", "blockquote", "td", "th"):
            return f" {inner} "
        if tag == "a" and node.attrs.get("href"):
            href = urljoin(self.base_url, node.attrs["href"])
            text = _squash(inner)
            self.links.append((text, href))
            return f"[{text}]({href})" if self.markdown else inner
        if not self.markdown or not inner.strip():
            return inner
        if tag in ("strong", "b"):
            return f"**{inner.strip()}**"
        if tag in ("em", "i"):
            return f"_{inner.strip()}_"
        if tag == "code":
            return f"`{inner}`"
        return inner

    def _image(self, node: Node) -> str:
        src = node.attrs.get("src") or node.attrs.get("data-src") or ""
        if not src:
            return ""
        src = urljoin(self.base_url, src)
        alt = _squash(node.attrs.get("alt", ""))
        if not alt and self.generated_alt:
            stem = PurePosixPath(urlsplit(src).path).stem
            alt = re.sub(r"[-_.]+", " ", stem).strip() or "an image"
        self.images.append((alt, src))
        label = f"Image {len(self.images)}" + (f": {alt}" if alt else "")
        return f"![{label}]({src})" if self.markdown else ""


def _squash(text: str) -> str:
    lines = _SPACES.sub(" ", text).split(_BREAK)
    return "\n".join(line.strip() for line in lines).strip()


# ---------------------------------------------------------------------------------------------- requests
def _wants_json(request: RecordedRequest) -> bool:
    return "application/json" in (request.header("Accept") or "").lower()


def _flag(request: RecordedRequest, name: str) -> str | None:
    """A flag header's value as the API reads it: any non-empty value switches it on."""
    value = (request.header(name) or "").strip()
    return value.lower() or None


def _envelope(data: Any, **extra: Any) -> dict[str, Any]:
    return {"code": 200, "status": 20000, "data": data, **extra}


def _return_format(request: RecordedRequest) -> str:
    value = (request.header("X-Return-Format") or "markdown").strip().lower()
    if value in ("screenshot", "pageshot"):
        raise ApiError(422, f"X-Return-Format {value!r}: the emulator does not render screenshots.")
    if value not in RETURN_FORMATS:
        raise ApiError(422, f"X-Return-Format must be one of {', '.join(RETURN_FORMATS)} here; got {value!r}.")
    return value


def _target(request: RecordedRequest, prefix: str, *, plus_is_space: bool) -> str:
    """The decoded text after the endpoint's prefix: `request.path` is the raw, still-encoded path."""
    raw = request.path[len(prefix) :]
    if plus_is_space:  # search and ground: a query string is options, `+` may stand for a space
        return unquote_plus(raw.split("?", 1)[0]).strip()
    return unquote(raw).strip()  # read: an unencoded target keeps its own query string


def _tokens(text: str) -> int:
    return len(vectors.tokens(text))


# ---------------------------------------------------------------------------------------------- read
@dataclass
class _Page:
    status: int
    content_type: str
    text: str


def _fetch(url: str, request: RecordedRequest) -> _Page:
    timeout = DEFAULT_FETCH_TIMEOUT
    if request.header("X-Timeout"):
        try:
            timeout = min(MAX_FETCH_TIMEOUT, max(1.0, float(request.header("X-Timeout") or "")))
        except ValueError:
            raise ApiError(422, "X-Timeout must be a number of seconds.") from None
    headers = {"User-Agent": "JinaEmulator (a test double)", "Accept": "text/html,text/plain;q=0.9,*/*;q=0.5"}
    if _flag(request, "X-No-Cache"):
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
    return _Page(status, content_type, text)


def _read(url: str, request: RecordedRequest) -> dict[str, Any]:
    """The read result for `url`: title, description, url, the content in the asked format, usage, extras."""
    fmt = _return_format(request)
    page = _fetch(url, request)
    data: dict[str, Any] = {"title": "", "description": "", "url": url}
    warnings = []
    if page.status >= 400:
        warnings.append(f"Target URL returned error {page.status}")
    renderer = _Renderer(fmt == "markdown", url, bool(_flag(request, "X-With-Generated-Alt")))

    if page.content_type in ("text/html", "application/xhtml+xml"):
        root = parse_html(page.text)
        title = next((n for n in root.iter() if n.tag == "title"), None)
        data["title"] = _squash(title.text()) if title is not None else ""
        for meta in root.iter():
            if meta.tag == "meta" and meta.attrs.get("name", meta.attrs.get("property", "")).lower() in (
                "description",
                "og:description",
            ):
                data["description"] = _squash(meta.attrs.get("content", ""))
                break
        if request.header("X-Remove-Selector"):
            remove(root, parse_selectors(request.header("X-Remove-Selector") or "", "X-Remove-Selector"))
        wait_for = request.header("X-Wait-For-Selector")
        if wait_for and not select(root, parse_selectors(wait_for, "X-Wait-For-Selector")):
            warnings.append(f"No element matched X-Wait-For-Selector {wait_for!r}; the page was read as it was.")
        parts = [root]
        if request.header("X-Target-Selector"):
            target = request.header("X-Target-Selector") or ""
            parts = select(root, parse_selectors(target, "X-Target-Selector"))
            if not parts:
                warnings.append(f"No element matched X-Target-Selector {target!r}.")
        if fmt == "html":
            content = "\n".join(serialize(part) for part in parts)
            for part in parts:  # the summaries still come from the page's links and images
                renderer.blocks(part)
        else:
            content = "\n\n".join(block for part in parts for block in renderer.blocks(part))
    elif page.content_type.startswith("text/") or page.content_type in ("application/json", "application/xml"):
        content = page.text if fmt != "html" else f"<pre>{html.escape(page.text, quote=False)}</pre>"
    else:
        raise ApiError(422, f"{url} is {page.content_type}; the emulator reads HTML and text only.")

    data[FIELD_BY_FORMAT[fmt]] = content
    links = _flag(request, "X-With-Links-Summary")
    if links == "all":
        data["links"] = [[text, href] for text, href in renderer.links]
    elif links:
        summary: dict[str, str] = {}
        for text, href in renderer.links:
            summary.setdefault(text, href)  # the first link of a text wins, in page order
        data["links"] = summary
    if _flag(request, "X-With-Images-Summary"):
        data["images"] = {
            f"Image {number}" + (f": {alt}" if alt else ""): src
            for number, (alt, src) in enumerate(renderer.images, start=1)
        }
    if warnings:
        data["warning"] = "\n".join(warnings)
    data["usage"] = {"tokens": _tokens(content)}
    return data


def _page_as_text(data: dict[str, Any]) -> str:
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
    target = _target(request, "/r/", plus_is_space=False)
    if not target:
        raise ApiError(422, "No URL to read: append the URL to /r/.")
    if "://" not in target:
        target = "https://" + target
    if urlsplit(target).scheme not in ("http", "https"):
        raise ApiError(422, f"Invalid URL {target!r}: only http and https URLs can be read.")
    data = _read(target, request)
    if _wants_json(request):
        return Reply(body=_envelope(data))
    return Reply(body=_page_as_text(data), content_type=TEXT_CONTENT_TYPE)


# ---------------------------------------------------------------------------------------------- search
def _corpus(emulator: JinaEmulator) -> list[dict[str, str]]:
    docs = []
    for index, item in enumerate(emulator.corpus):
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise ApiError(500, f"Emulator corpus item {index} must be a dict with a 'content' string.")
        docs.append({"url": str(item.get("url", "")), "title": str(item.get("title", "")), "content": item["content"]})
    return docs


def _description(content: str) -> str:
    first = _SENTENCE_END.split(content.strip(), maxsplit=1)[0]
    return first if len(first) <= DESCRIPTION_CHARS else first[: DESCRIPTION_CHARS - 1].rstrip() + "…"


@route("GET", "/s/")
def search(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    query = _target(request, "/s/", plus_is_space=True)
    if not query:
        raise ApiError(422, "No search query: append it to /s/.")
    fmt = _return_format(request)
    with_content = (request.header("X-Respond-With") or "").strip().lower() != "no-content"
    corpus = _corpus(emulator)
    # a result must share a content word with the query: "is" and "the" alone do not make a page relevant
    keywords = " ".join(word for word in terms(query) if word not in STOPWORDS)
    texts = [f"{doc['title']}\n{doc['content']}" for doc in corpus]
    relevance = scores(keywords, texts, listwise=True) if corpus and keywords else [0.0] * len(corpus)
    ranked = sorted((i for i in range(len(corpus)) if relevance[i] > 0), key=lambda i: (-relevance[i], i))
    results = []
    for index in ranked[:SEARCH_RESULTS]:
        doc = corpus[index]
        result: dict[str, Any] = {"title": doc["title"], "url": doc["url"], "description": _description(doc["content"])}
        if with_content:
            body = doc["content"]
            if fmt == "html":
                paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in doc["content"].split("\n\n"))
                body = f"<html><head><title>{html.escape(doc['title'])}</title></head><body>{paragraphs}</body></html>"
            result[FIELD_BY_FORMAT[fmt]] = body
        result["usage"] = {"tokens": _tokens(result.get(FIELD_BY_FORMAT[fmt], result["description"]))}
        results.append(result)
    if _wants_json(request):
        total = sum(result["usage"]["tokens"] for result in results)
        return Reply(body=_envelope(results, meta={"usage": {"tokens": total}}))
    chunks = []
    for number, result in enumerate(results, start=1):
        lines = [
            f"[{number}] Title: {result['title']}",
            f"[{number}] URL Source: {result['url']}",
            f"[{number}] Description: {result['description']}",
        ]
        if with_content:
            label = {"markdown": "Markdown Content", "text": "Text Content", "html": "HTML Content"}[fmt]
            lines.append(f"[{number}] {label}:\n{result[FIELD_BY_FORMAT[fmt]]}")
        chunks.append("\n".join(lines))
    return Reply(body="\n\n".join(chunks) + "\n", content_type=TEXT_CONTENT_TYPE)


# ---------------------------------------------------------------------------------------------- ground
def _claim(text: str) -> tuple[set[str], bool]:
    """The content words of a text and whether it is negated."""
    words = terms(re.sub(r"n't\b", " not", text.lower()))
    negated = any(word in NEGATIONS for word in words)
    return {word for word in words if word not in STOPWORDS and word not in NEGATIONS}, negated


def ground_statement(statement: str, corpus: list[dict[str, str]]) -> dict[str, Any]:
    """Factuality in [0, 1], a verdict, a reason and the references (sentences of the corpus) behind them."""
    words, negated = _claim(statement)
    if not words:
        raise ApiError(422, "The statement has no content words to check.")
    candidates = []
    for doc in corpus:
        subject, _ = _claim(doc["title"])  # a sentence speaks of its page's subject ("It is baked ...")
        for sentence in _SENTENCE_END.split(doc["content"]):
            sentence_words, sentence_negated = _claim(sentence)
            sentence_words |= subject
            coverage = len(words & sentence_words) / len(words)
            if coverage >= MIN_COVERAGE:
                candidates.append((coverage, doc["url"], sentence.strip(), sentence_negated == negated))
    candidates.sort(key=lambda c: -c[0])
    references = [
        {"url": url, "keyQuote": quote, "isSupportive": supportive}
        for _, url, quote, supportive in candidates[:MAX_REFERENCES]
    ]
    support = max((c[0] for c in candidates if c[3]), default=0.0)
    contradiction = max((c[0] for c in candidates if not c[3]), default=0.0)
    factuality = round(support * (1 - contradiction), 2)
    result = factuality >= 0.5
    if not candidates:
        reason = (
            f"None of the {len(corpus)} documents searched mentions enough of the statement's key terms "
            f"({', '.join(sorted(words))}), so it cannot be confirmed."
        )
    elif result:
        best = next(c for c in candidates if c[3])
        reason = f'The statement is supported by {best[1]}, which says: "{best[2]}"'
        if contradiction:
            reason += " Another source disagrees in part."
    elif contradiction:
        worst = next(c for c in candidates if not c[3])
        reason = f'The statement is contradicted by {worst[1]}, which says: "{worst[2]}"'
    else:
        reason = "The sources found cover only part of the statement, so it cannot be confirmed."
    usage = _tokens(statement) + sum(_tokens(c[2]) for c in candidates[:MAX_REFERENCES])
    return {
        "factuality": factuality,
        "result": result,
        "reason": reason,
        "references": references,
        "usage": {"tokens": usage},
    }


@route("GET", "/g/")
def ground(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    statement = _target(request, "/g/", plus_is_space=True)
    if not statement:
        raise ApiError(422, "No statement to ground: append it to /g/.")
    data = ground_statement(statement, _corpus(emulator))
    if _wants_json(request):
        return Reply(body=_envelope(data))
    lines = [
        f"Factuality: {data['factuality']}",
        f"Result: {str(data['result']).lower()}",
        f"Reason: {data['reason']}",
        "References:",
    ]
    lines += [
        f"- {ref['url']} ({'supportive' if ref['isSupportive'] else 'contradicting'}): {json.dumps(ref['keyQuote'])}"
        for ref in data["references"]
    ]
    return Reply(body="\n".join(lines) + "\n", content_type=TEXT_CONTENT_TYPE)
