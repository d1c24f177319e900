"""
Documents in and out of a request: the checks before one is sent, the text sent for it, the copy that comes back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from haystack import Document

from haystack_integrations.common.jina.errors import JinaInputError

T = TypeVar("T")
Item = TypeVar("Item")


def check_documents(documents: Any, component: str, hint: str = "") -> None:
    """Raise `TypeError` unless `documents` is a list of Documents; `hint` names the component to use instead."""
    if not isinstance(documents, list):
        msg = f"{component} expects a list of Documents as input, got {type(documents).__name__}. {hint}".rstrip()
        raise TypeError(msg)
    for position, document in enumerate(documents):
        if not isinstance(document, Document):
            msg = (
                f"{component} expects a list of Documents as input; item {position} is a "
                f"{type(document).__name__}. {hint}"
            ).rstrip()
            raise TypeError(msg)


def text_with_meta(document: Document, meta_fields: list[str], separator: str) -> str:
    """The values of `meta_fields` the document has (not None), then its content, joined by `separator`."""
    values = [str(document.meta[key]) for key in meta_fields if document.meta.get(key) is not None]
    return separator.join([*values, document.content or ""])


def check_each(
    items: Iterable[Item], check: Callable[[Item], T], *, raise_on_failure: bool
) -> list[T | JinaInputError]:
    """
    Run a cheap check of each input (a Document, a URL, a file...) before any request.

    With `raise_on_failure` the first `JinaInputError` is raised; otherwise it takes the input's place,
    for `unwrap` to raise in the request worker, which reports it in order with the other failures.
    """
    checked: list[T | JinaInputError] = []
    for item in items:
        try:
            checked.append(check(item))
        except JinaInputError as error:
            if raise_on_failure:
                raise
            checked.append(error)
    return checked


def unwrap(checked: T | JinaInputError) -> T:
    """The checked value, or its input error raised."""
    if isinstance(checked, JinaInputError):
        raise checked
    return checked


def embedded_copy(
    document: Document, embedding: Any, embedded_meta: dict[str, Any] | None = None, *, field: str = "embedding"
) -> Document:
    """
    A copy of `document` with `field` (`embedding` or `sparse_embedding`) set, its meta a new dict plus a deep
    copy of `embedded_meta`.

    The input is never changed, and keys added to, removed from or replaced in the copy's meta never reach
    it. Values nested in the meta (a list, a dict) are shared with the input, as Haystack's own embedders
    share the whole meta: embedding never changes them, and a deep copy per document (with its memo dict)
    costs microseconds and objects for the garbage collector to walk, 100k times over.
    """
    meta = {**document.meta, **copy.deepcopy(embedded_meta)} if embedded_meta else document.meta.copy()
    # binary types give ints; Document.embedding is typed list[float] but stores them as they are
    return replace(document, **{field: embedding}, meta=meta)


def check_text_to_embed(text: Any, owner: str, documents_owner: str, *, expects: str = "a string as input") -> None:
    """
    Refuse what a text embedder cannot send: not a string, or empty (as `text_to_embed` refuses such a document).

    :param owner: The text embedder, as messages name it; `documents_owner`: its counterpart for Documents.
    :param expects: How the `TypeError` says what `owner` takes (`JinaTextEmbedder` keeps its published words).
    :raises TypeError: If `text` is not a string, naming the component that embeds Documents.
    :raises JinaInputError: If `text` has nothing to embed (the API would answer 422, naming no input).
    """
    if not isinstance(text, str):
        msg = (
            f"{owner} expects {expects}, got {type(text).__name__}. "
            f"To embed a list of Documents, use {documents_owner}."
        )
        raise TypeError(msg)
    if not text.strip():
        msg = f"{owner} got an empty text (or only whitespace) to embed; nothing was sent."
        raise JinaInputError(msg)


def text_to_embed(document: Document, meta_fields: list[str], separator: str, prefix: str, suffix: str) -> str:
    """
    The text a document embedder sends for `document`: its `meta_fields` values and content, with prefix and suffix.

    :raises JinaInputError: If there is nothing to embed (no content and no values for `meta_fields`).
    """
    body = text_with_meta(document, meta_fields, separator)
    if not body.strip():
        msg = (
            f"Document {document.id} has no text to embed: its content is empty or None and it has no "
            f"values for meta_fields_to_embed={meta_fields}."
        )
        raise JinaInputError(msg)
    return prefix + body + suffix


def text_size(texts: Sequence[Any]) -> Callable[[list[int]], tuple[int, int]]:
    """`size_of` for text inputs: the characters of the group's texts (input errors count nothing)."""
    return lambda positions: (sum(len(texts[p]) for p in positions if isinstance(texts[p], str)), 0)


def image_size_of(positions: list[int]) -> tuple[int, int]:
    """`size_of` for image inputs: one image per position."""
    return 0, len(positions)


def failed_documents(documents: Sequence[Document], errors: Mapping[int, Exception]) -> list[dict[str, str]]:
    """`meta["failed_documents"]`: `{"id", "error"}` for each failed position, in input order."""
    return [{"id": documents[position].id, "error": str(errors[position])} for position in sorted(errors)]
