"""HTML for the emulator's reader: a forgiving parser, CSS selectors, and rendering to markdown or text."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

from haystack_integrations.testing.jina.server import ApiError

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
SPACES = re.compile(r"[ \t\r\n\f\v]+")
BREAK = "\x00"  # stands for <br> while whitespace is collapsed
# Elements a readability filter drops: page chrome around the main content (the `content` format).
CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "form"})


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
class Renderer:
    """Turns elements into markdown or plain text, collecting links and images on the way."""

    def __init__(
        self, markdown: bool, base_url: str, generated_alt: bool, *, skipped: frozenset[str] = frozenset()
    ) -> None:
        self.markdown = markdown
        self.skipped = SKIPPED_TAGS | skipped
        self.base_url = base_url
        self.generated_alt = generated_alt
        self.links: list[tuple[str, str]] = []
        self.images: list[tuple[str, str]] = []

    def blocks(self, node: Node) -> list[str]:
        out: list[str] = []
        buffer: list[str] = []

        def flush() -> None:
            text = squash("".join(buffer))
            if text:
                out.append(text)
            buffer.clear()

        for child in node.children:
            if isinstance(child, str):
                buffer.append(child)
                continue
            tag = child.tag
            if tag in self.skipped:
                continue
            if tag in HEADINGS:
                flush()
                text = squash(self.inline(child))
                if text:
                    out.append(("#" * HEADINGS[tag] + " " if self.markdown else "") + text)
            elif tag in ("ul", "ol"):
                flush()
                items = [li for li in child.children if isinstance(li, Node) and li.tag == "li"]
                lines = []
                for number, item in enumerate(items, start=1):
                    text = squash(self.inline(item))
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
        if tag in self.skipped:
            return ""
        if tag == "br":
            return BREAK
        if tag == "img":
            return self._image(node)
        inner = "".join(self.inline(child) for child in node.children)
        if tag in HEADINGS or tag in BLOCK_TAGS or tag in ("li", "ul", "ol", "pre", "blockquote", "td", "th"):
            return f" {inner} "
        if tag == "a" and node.attrs.get("href"):
            href = urljoin(self.base_url, node.attrs["href"])
            text = squash(inner)
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
        alt = squash(node.attrs.get("alt", ""))
        if not alt and self.generated_alt:
            stem = PurePosixPath(urlsplit(src).path).stem
            alt = re.sub(r"[-_.]+", " ", stem).strip() or "an image"
        self.images.append((alt, src))
        label = f"Image {len(self.images)}" + (f": {alt}" if alt else "")
        return f"![{label}]({src})" if self.markdown else ""


def squash(text: str) -> str:
    lines = SPACES.sub(" ", text).split(BREAK)
    return "\n".join(line.strip() for line in lines).strip()
