"""Image Documents for a multimodal reranker (jina-reranker-m0): which documents go as images, and in which requests.

The conventions are those of `JinaDocumentImageEmbedder` and Haystack's image components: the image's path
(or `http(s)` URL) is in `meta[file_path_meta_field]`, relative to `root_path`, a PDF page is chosen with
`meta["page_number"]`; the preparation itself (decoding, shrinking to `image_size`, base64) is
`common/jina/images.py`'s.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haystack import Document, logging
from haystack.dataclasses import ByteStream, ImageContent

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.images import (
    MAX_IMAGE_BASE64_CHARS,
    ImageSource,
    ImageURL,
    check_image_size,
    image_base64,
    resolve_image_doc,
)
from haystack_integrations.common.jina.media import kind_of_bytes
from haystack_integrations.common.jina.models import RERANK_MODELS

logger = logging.getLogger(__name__)

DEFAULT_FILE_PATH_META_FIELD = "file_path"
#: Jina's reference gives no limit of images per rerank request (only 8 MB per image). A request carries at
#: most this many, so the images prepared for the requests in flight stay bounded (`max_concurrency` x 16)
#: whatever the number of candidates; for the pointwise m0 the split changes no score (assumed, see README).
MAX_IMAGES_PER_REQUEST = 16


@dataclass(frozen=True)
class ImageOptions:
    """Where a ranker finds the images of Documents, and the box they are shrunk to."""

    file_path_meta_field: str = DEFAULT_FILE_PATH_META_FIELD
    root_path: str | None = None
    image_size: tuple[int, int] | None = None

    @classmethod
    def checked(cls, file_path_meta_field: Any, root_path: Any, image_size: Any) -> "ImageOptions":
        """The options, validated (a list `image_size`, as YAML gives it back, becomes a tuple)."""
        if not isinstance(file_path_meta_field, str) or not file_path_meta_field:
            msg = f"file_path_meta_field must be a non-empty string, got {file_path_meta_field!r}"
            raise ValueError(msg)
        if root_path is not None and not isinstance(root_path, str):
            msg = f"root_path must be None or a string, got {root_path!r}"
            raise ValueError(msg)
        return cls(file_path_meta_field, root_path or None, check_image_size(image_size))

    def changed(self) -> dict[str, Any]:
        """The options that differ from their defaults: the ones a text-only model refuses."""
        defaults = ImageOptions()
        return {
            name: value
            for name, value in (
                ("file_path_meta_field", self.file_path_meta_field),
                ("root_path", self.root_path),
                ("image_size", self.image_size),
            )
            if value != getattr(defaults, name)
        }

    def is_image(self, document: Document) -> bool:
        """A document with an image in its meta and no text (no content, or only whitespace) is ranked as its image."""
        has_text = bool(document.content and document.content.strip())
        return not has_text and document.meta.get(self.file_path_meta_field) not in (None, "")

    def locate(self, document: Document) -> ImageSource | ImageURL:
        """
        The document's image file or URL, checked without reading the file.

        :raises JinaInputError: As `resolve_image_source` does, and for a PDF given by URL: `RerankerM0Request`
            takes `ImageDoc` only (no `PDFDoc`), so a PDF must be a local file, ranked page by page.
        """
        return resolve_image_doc(
            document.id,
            document.meta,
            file_path_meta_field=self.file_path_meta_field,
            root_path=self.root_path,
            use="rank",
        )


def image_models() -> list[str]:
    """The known rerankers that take images (for messages: which model to use instead)."""
    return [name for name, model in RERANK_MODELS.items() if model.images]


def warn_of_images_ranked_as_text(
    model: str, documents: list[Document], options: ImageOptions, text_of: Callable[[Document], str]
) -> None:
    """
    One warning per run when a text-only model gets documents that are only an image (in meta or a `blob`),
    with no text to rank (`text_of`): they are ranked as empty text, so they score near 0 whatever the
    image shows -- a wrong result, silent otherwise.
    """
    field = options.file_path_meta_field
    images = [
        d for d in documents if (d.blob is not None or d.meta.get(field) not in (None, "")) and not text_of(d).strip()
    ]
    if not images:
        return
    logger.warning(
        "{model} ranks text only: {count} of {total} documents (the first: {first}) have no text, only an image, "
        "and are ranked as empty text (a score near 0 whatever the image shows). To rank them by their images, "
        "use model={models}.",
        model=model,
        count=len(images),
        total=len(documents),
        first=images[0].id,
        models=" or ".join(repr(name) for name in image_models()),
    )


def takes_images(model: str, options: ImageOptions) -> bool:
    """Whether image documents go to `model` as images: a known model says; an unknown one if image options were set."""
    known = RERANK_MODELS.get(model)
    return known.images if known is not None else bool(options.changed())


def request_chunks(count: int, images: set[int] | dict[int, Any], max_documents: int, max_images: int) -> list[range]:
    """Consecutive positions `0..count-1`, at most `max_documents` per request of which at most `max_images` images."""
    chunks: list[range] = []
    start = in_chunk = 0
    for position in range(count):
        if position - start == max_documents or (position in images and in_chunk == max_images):
            chunks.append(range(start, position))
            start, in_chunk = position, 0
        in_chunk += position in images
    if count > start:
        chunks.append(range(start, count))
    return chunks


#: A visual query: an image path, an `http(s)` URL, a `ByteStream` or an `ImageContent`.
ImageQuery = str | Path | ByteStream | ImageContent


def check_visual_query(model: str, query: str) -> None:
    """
    Refuse an image query a known text-only reranker cannot take, or one given together with a text query.

    `query` stays a mandatory input (existing pipelines connect unchanged): with an image query it is `""`.

    :raises ValueError: Naming the model and the rerankers that take image queries.
    """
    if query.strip():
        msg = (
            f"JinaRanker got both query={query[:50]!r} and an image_query: the API ranks against one query. "
            'Pass query="" with image_query.'
        )
        raise ValueError(msg)
    known = RERANK_MODELS.get(model)
    if known is not None and not known.images:
        takers = ", ".join(name for name, reranker in RERANK_MODELS.items() if reranker.images)
        msg = f"{model} ranks against text queries only, so it takes no image_query. Rerankers that do: {takers}."
        raise ValueError(msg)


def visual_query_input(image_query: Any, options: ImageOptions) -> str | bytes:
    """
    What goes into the visual query `{"image": ...}`: a URL as it is, or plain base64 of the image, prepared
    as image documents are (a path resolved against `root_path`, shrunk to fit `image_size`, at most 8 MB).

    :raises JinaInputError: Naming the file, if it cannot be used (missing, not an image, too large).
    :raises TypeError: For an input of another type.
    """
    if isinstance(image_query, ImageContent):
        return image_query.base64_image
    if isinstance(image_query, ByteStream):
        name = str(image_query.meta.get("file_path") or "ByteStream")
        given = image_query.mime_type
        kind = kind_of_bytes(image_query.data, given, name)
        if kind != "image" or not image_query.data:
            problem = (
                "the ByteStream is empty" if not image_query.data else f"it is not an image (it looks like {kind})"
            )
            raise JinaInputError(f"Cannot rank against the image query ('{name}'): {problem}.")
        if len(image_query.data) * 4 > MAX_IMAGE_BASE64_CHARS * 3:
            raise JinaInputError(
                f"Cannot rank against the image query ('{name}'): it is over the API's 8 MB per image."
            )
        return base64.b64encode(image_query.data)
    if not isinstance(image_query, str | Path):
        given = type(image_query).__name__
        msg = f"JinaRanker expects image_query as a path, URL, ByteStream or ImageContent, got {given}."
        raise TypeError(msg)
    meta = {options.file_path_meta_field: str(image_query)}
    source = resolve_image_doc(
        "image_query", meta, file_path_meta_field=options.file_path_meta_field, root_path=options.root_path, use="rank"
    )
    if isinstance(source, ImageURL):
        return source.url
    return image_base64(source, options.image_size).encode("ascii")
