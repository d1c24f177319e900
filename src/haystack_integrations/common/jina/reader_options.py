"""
The Reader's request options: one `ReaderOptions` value, declared once, that becomes the `X-...` headers.

The three Reader components (`JinaReaderConnector`, `JinaReaderFetcher`, `JinaReaderConverter`) take these
options as keyword parameters of the same names and keep them as one `ReaderOptions`. The header names,
the flag semantics and the `X-Timeout` bound come from the Reader notes in Jina's reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Any

MAX_READER_TIMEOUT = 180

#: Options that are a text sent as is.
TEXT_HEADERS = {
    "return_format": "X-Return-Format",
    "engine": "X-Engine",
    "retain_images": "X-Retain-Images",
    "locale": "X-Locale",
    "respond_with": "X-Respond-With",
}

#: Options that are one or more CSS selectors, joined with ", " (the separator the service splits on).
SELECTOR_HEADERS = {
    "target_selector": "X-Target-Selector",
    "remove_selector": "X-Remove-Selector",
    "wait_for_selector": "X-Wait-For-Selector",
}

#: Flags: the service reads a flag as on whenever its header is present, even as "false", so only
#: flags that are on are sent.
FLAG_HEADERS = {
    "with_links_summary": "X-With-Links-Summary",
    "with_images_summary": "X-With-Images-Summary",
    "with_generated_alt": "X-With-Generated-Alt",
    "no_cache": "X-No-Cache",
    "with_iframe": "X-With-Iframe",
    "with_shadow_dom": "X-With-Shadow-Dom",
}

#: Options whose values the service enumerates (lower case; the service lower-cases them too).
#: `return_format`: the reference's table of formats. `engine`: the engines the reference lists.
#: `retain_images`: the service's image retention modes (its `IMAGE_RETENTION_MODES`; the reference
#: itself says only "e.g. none"). `respond_with` is open-ended ("no-content", "readerlm-v2", ...): not checked.
ENUMERATED_OPTIONS = {
    "return_format": ("content", "markdown", "html", "text", "screenshot", "pageshot"),
    "engine": ("browser", "direct", "cf-browser-rendering"),
    "retain_images": ("none", "all", "alt", "all_p", "alt_p"),
}

#: Whole numbers, with their smallest and largest values.
NUMBER_HEADERS = {
    "reader_timeout": ("X-Timeout", 1, MAX_READER_TIMEOUT),
    "token_budget": ("X-Token-Budget", 1, None),
}


def text_header_value(label: str, value: Any, allowed: Any = None, *, choice_label: str | None = None) -> str:
    """
    A non-empty one-line text option, stripped, as a header value; if `allowed` is given, one of them (any case).

    :param label: How the option is named in errors.
    :param choice_label: How it is named when it is not one of `allowed` (default: `label`).
    :raises ValueError: For anything else.
    """
    if not isinstance(value, str) or not value.strip():
        msg = f"{label} must be a non-empty string, got {value!r}"
        raise ValueError(msg)
    text = check_header_value(label, value).strip()
    if allowed is not None and text.lower() not in allowed:
        msg = f"{choice_label or label} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        raise ValueError(msg)
    return text


def check_header_value(name: str, value: str) -> str:
    """
    `value` if it is safe to send as a header value.

    :raises ValueError: For CR, LF or other control characters (they would inject headers), and for
        characters outside Latin-1 (HTTP header values cannot carry them).
    """
    if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
        msg = f"{name} must be one line of text without control characters (CR, LF, ...), got {value!r}"
        raise ValueError(msg)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        msg = (
            f"{name} has characters an HTTP header cannot carry (only Latin-1 can be sent), got {value!r}. "
            "In a CSS selector write them as CSS escapes, e.g. '\\4f8b ' for '例'."
        )
        raise ValueError(msg) from None
    return value


def option_headers(options: Mapping[str, Any]) -> dict[str, str]:
    """
    The `X-...` headers for the reader options in `options` (keys from `READER_OPTIONS`).

    `None` and `False` send nothing, so the service's defaults apply.

    :raises ValueError: If an option has a value the service cannot take, or a CR / LF.
    """
    headers: dict[str, str] = {}
    for option, name in TEXT_HEADERS.items():
        text = options.get(option)
        if text is not None:
            allowed = ENUMERATED_OPTIONS.get(option)
            headers[name] = text_header_value(f"{option} ({name})", text, allowed, choice_label=option)
    for option, name in SELECTOR_HEADERS.items():
        selector = options.get(option)
        if selector:
            headers[name] = _selector_header(f"{option} ({name})", selector)
    links = options.get("with_links_summary", False)
    if links not in (False, True, "all"):
        msg = f"with_links_summary must be True, False or 'all', got {links!r}"
        raise ValueError(msg)
    for option, name in FLAG_HEADERS.items():
        value = options.get(option)
        if option != "with_links_summary" and value is not None and not isinstance(value, bool):
            msg = f"{option} must be True, False or None, got {value!r}"
            raise ValueError(msg)
        if value:
            headers[name] = "true" if value is True else str(value)
    for option, (name, low, high) in NUMBER_HEADERS.items():
        number = options.get(option)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int):
            msg = f"{option} must be a whole number, got {number!r}"
            raise ValueError(msg)
        if number < low or (high is not None and number > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            msg = f"{option} must be {bounds}, got {number}"
            raise ValueError(msg)
        headers[name] = str(number)
    return headers


def _selector_header(name: str, selector: Any) -> str:
    """One selector as is; several joined with ", "."""
    selectors = [selector] if isinstance(selector, str) else selector
    if not isinstance(selectors, list | tuple) or not all(isinstance(s, str) and s.strip() for s in selectors):
        msg = f"{name} must be a CSS selector or a list of them, got {selector!r}"
        raise ValueError(msg)
    return ", ".join(check_header_value(name, s).strip() for s in selectors)


#: What each reader option does, word for word as each Reader component's `__init__` docstring says it (one
#: source: tests/test_parameter_docs.py compares them). The text stays static in each docstring, where IDEs
#: and Haystack's docs generator read it.
READER_OPTION_DOCS = MappingProxyType(
    {
        "return_format": (
            "`X-Return-Format`: `content` (the service's default: markdown of the page's main content, "
            "readability-filtered), `markdown` (the whole page, unfiltered), `html`, `text`, `screenshot` or "
            "`pageshot`. For the last two the Document's content is the image URL."
        ),
        "target_selector": "`X-Target-Selector`: CSS selector(s) of the part of the page to return.",
        "remove_selector": "`X-Remove-Selector`: CSS selector(s) of elements to leave out.",
        "wait_for_selector": "`X-Wait-For-Selector`: CSS selector(s) to wait for before reading.",
        "with_links_summary": (
            "`X-With-Links-Summary`: `True` adds the page's links to meta `links` (link text to URL; for a text "
            'that several links share, the last one); `"all"` keeps every link, duplicates included, as '
            "`[text, url]` pairs."
        ),
        "with_images_summary": "`X-With-Images-Summary`: add the page's images to meta `images`.",
        "with_generated_alt": "`X-With-Generated-Alt`: caption images that have no alt text.",
        "no_cache": "`X-No-Cache`: fetch the page again instead of using the service's cached copy.",
        "reader_timeout": (
            "`X-Timeout`: seconds the service may wait for the page to load (1 to 180). Keep the component's "
            "`timeout` above it."
        ),
        "engine": "`X-Engine`: how the service fetches the page: `browser`, `direct` or `cf-browser-rendering`.",
        "token_budget": "`X-Token-Budget`: the most tokens the request may cost; larger pages fail.",
        "retain_images": "`X-Retain-Images`: which images stay in the content, e.g. `none`.",
        "locale": "`X-Locale`: the browser locale the page is read with, e.g. `de-DE`.",
        "with_iframe": "`X-With-Iframe`: include the content of iframes.",
        "with_shadow_dom": "`X-With-Shadow-Dom`: include the content of shadow DOM.",
        "respond_with": (
            "`X-Respond-With`, e.g. `readerlm-v2` (convert with Jina's ReaderLM) or `no-content` (search: "
            "titles, URLs and descriptions only)."
        ),
    }
)


@dataclass(frozen=True)
class ReaderOptions:
    """
    The Reader's request options; `None` and `False` send nothing, so the service's defaults apply.

    What each option does: `READER_OPTION_DOCS`, which each Reader component's docstring repeats word for word.
    """

    return_format: str | None = None
    target_selector: str | list[str] | None = None
    remove_selector: str | list[str] | None = None
    wait_for_selector: str | list[str] | None = None
    with_links_summary: bool | str = False
    with_images_summary: bool = False
    with_generated_alt: bool = False
    no_cache: bool = False
    reader_timeout: int | None = None
    engine: str | None = None
    token_budget: int | None = None
    retain_images: str | None = None
    locale: str | None = None
    with_iframe: bool | None = None
    with_shadow_dom: bool | None = None
    respond_with: str | None = None

    @classmethod
    def of(cls, parameters: Mapping[str, Any]) -> ReaderOptions:
        """The options among a component's `__init__` arguments (its `locals()`), checked as headers."""
        options = cls(**{option.name: parameters[option.name] for option in fields(cls)})
        options.headers()  # a value the service cannot take fails at construction
        return options

    def headers(self) -> dict[str, str]:
        """The `X-...` headers (see `option_headers`)."""
        return option_headers(asdict(self))


#: The reader options, in the order of the components' parameters.
READER_OPTIONS = tuple(option.name for option in fields(ReaderOptions))
