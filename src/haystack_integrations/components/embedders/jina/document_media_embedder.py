"""JinaDocumentMediaEmbedder: embeds the images, PDFs, audio and video that Documents point to (v5-omni).

```python
from haystack import Document
from haystack_integrations.components.embedders.jina import JinaDocumentMediaEmbedder

# JINA_API_KEY must be set
embedder = JinaDocumentMediaEmbedder()  # jina-embeddings-v5-omni-small, task retrieval.passage
documents = [
    Document(content="Team meeting, 3 March", meta={"file_path": "meeting.mp3"}),
    Document(meta={"file_path": "demo.mp4"}),
    Document(content="A note without a file"),
]
result = embedder.run(documents)
print(result["documents"][0].embedding[:3], result["meta"]["usage"])
```

Each document names its file in `meta[file_path_meta_field]` (relative to `root_path` when given) or an
`http(s)` URL, sent as it is for Jina to fetch. The type comes from `meta["mime_type"]`, the extension, or
the file's first bytes: images (jpg, jpeg, png, gif, webp, bmp, tif/tiff, avif, heic, svg), video (mp4,
avi, mov, mkv, webm, flv, wmv), audio (wav, mp3, flac, ogg, m4a, opus) and PDF. A document without a file
is embedded from its text. With `fuse_content=True`, a document's text and its file become one vector
(the API's `MergedContentGroup`); without it, the file alone is embedded. A PDF is sent as its own request
(the spec: "PDFs must be sent as single inputs"), and cannot be fused with text.

Files are read and base64-encoded only when their request has a slot, and dropped once it is sent, so
memory stays bounded by `batch_size x max_concurrency` files whatever the number of documents. Audio,
video and PDF files over `MAX_MEDIA_FILE_BYTES` (25 MB; the spec states no limit) are refused before
anything is sent, naming the file.

Every input document comes back, in order, as a copy with `embedding` and `meta["embedding_source"]`
(`{"type": "image" | "pdf" | "audio" | "video" | "text", "fused": bool, "file_path_meta_field": ...}`). A
document that cannot be used raises `JinaInputError` naming it and its file, or with
`raise_on_failure=False` comes back without embedding and is listed in `meta["failed_documents"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import DocumentEmbedderBase, check_documents, stored_as
from haystack_integrations.common.jina.embeddings import (
    EMBEDDINGS_URL,
    batch_positions,
    check_batch_size,
    check_dimensions,
    check_each,
    unwrap,
)
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.media import MediaSource, media_base64, media_error, media_input, resolve_media
from haystack_integrations.common.jina.models import EMBEDDING_MODELS, check_embedding_model, models_taking

JINA_API_URL = EMBEDDINGS_URL


@dataclass(frozen=True)
class _Planned:
    """What one document sends: its media (or none), and the text sent with it or instead of it."""

    source: MediaSource | None
    text: str | None


@component
class JinaDocumentMediaEmbedder(DocumentEmbedderBase):
    """
    Embeds the media files Documents point to (images, PDFs, audio, video; `meta["file_path"]`) with a
    Jina omni model, jina-embeddings-v5-omni-small by default; a Document without a file is embedded from
    its text. Text, images, audio and video share one vector space, and text vectors are those of the
    matching v5-text model, so an index built with `JinaDocumentEmbedder(model="jina-embeddings-v5-text-small")`
    and this component's vectors can be searched together.
    """

    init_attributes = stored_as(model="model_name")

    def __init__(
        self,
        *,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "jina-embeddings-v5-omni-small",
        base_url: str = JINA_API_URL,
        file_path_meta_field: str = "file_path",
        root_path: str | None = None,
        task: str | None = "retrieval.passage",
        dimensions: int | None = None,
        fuse_content: bool = False,
        batch_size: int = 4,
        progress_bar: bool = True,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        raise_on_failure: bool = True,
        normalized: bool | None = None,
        truncate: bool | None = None,
    ) -> None:
        """
        Create a JinaDocumentMediaEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: `jina-embeddings-v5-omni-small` (default, 1024-d) or `jina-embeddings-v5-omni-nano`
            (768-d). An image model (jina-embeddings-v4, jina-clip-v2) embeds images and PDFs only; a known
            text-only model raises `ValueError` naming the models that take media.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param file_path_meta_field: The meta field holding the file's path or URL.
        :param root_path: The folder relative paths are resolved against; a path resolving outside it is
            refused. `None` takes paths as they are.
        :param task: The task adapter (v5: `retrieval.query`, `retrieval.passage`, `text-matching`,
            `clustering`, `classification`). Documents are passages: embed queries with `retrieval.query`.
        :param dimensions: Truncate vectors to this many dimensions (up to the model's own size).
        :param fuse_content: Embed a document's text and its file as one vector (a `MergedContentGroup`:
            the text first, then the file). A PDF cannot be fused. `False` embeds the file alone.
        :param batch_size: Inputs per request; each file is held in memory while its request is in flight.
        :param progress_bar: Show a progress bar counting embedded documents.
        :param max_concurrency: Requests in flight at once, at most. `None` follows the key (as the other
            embedders), up to 8 while unstated: each request carries its files.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param raise_on_failure: If `True`, a failed request or an unusable document raises. If `False`,
            the affected documents come back without embedding and `meta["failed_documents"]` lists them.
        :param normalized: Ask for L2-normalized vectors. `None` keeps the API default (true).
        :param truncate: Let the API cut texts longer than the model's context. `None` keeps the API default.
        """
        check_batch_size(batch_size)
        check_base_url(base_url)
        self.model_name = model
        self.base_url = base_url
        self.file_path_meta_field = file_path_meta_field
        self.root_path = root_path
        self.task = task
        self.dimensions = check_dimensions(dimensions)
        self.fuse_content = fuse_content
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self.raise_on_failure = raise_on_failure
        self.normalized = normalized
        self.truncate = truncate
        check_embedding_model(model, self._options(), images=True)
        self._connect(api_key, timeout, max_retries, max_concurrency, unstated_cap=8)

    def _options(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "dimensions": self.dimensions,
            "normalized": self.normalized,
            "truncate": self.truncate,
        }

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed the media (or, without media, the text) of a list of Documents.

        :param documents: Documents whose meta names a media file or URL, or that have text.
        :returns: `documents`: copies of all inputs, in order, with `embedding` and `meta["embedding_source"]`;
            `meta`: `model`, summed `usage` (with `image_tokens`, `audio_tokens`, `video_tokens` as the API
            reports them), and with `raise_on_failure=False` `failed_documents` (`{"id", "error"}`).
        :raises TypeError: If the input is not a list of Documents.
        :raises JinaError: If a request fails or a document cannot be used (with `raise_on_failure`).
        """
        return self._call(self._embed(documents))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed Documents without blocking the event loop. Same parameters and result as `run`.

        :param documents: Documents whose meta names a media file or URL, or that have text.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._embed(documents))

    def _plan(self, document: Document) -> _Planned:
        """Check one document without reading its file: what it will send."""
        source = resolve_media(
            document.id, document.meta, file_path_meta_field=self.file_path_meta_field, root_path=self.root_path
        )
        text = document.content if isinstance(document.content, str) and document.content.strip() else None
        if source is None:
            if text is None:
                msg = (
                    f"Document {document.id} has nothing to embed: no media file in "
                    f"meta['{self.file_path_meta_field}'] (file_path_meta_field) and no text."
                )
                raise JinaInputError(msg)
            return _Planned(None, text)
        known = EMBEDDING_MODELS.get(self.model_name)
        where = source.url if source.url is not None else source.path
        if known is not None and source.kind not in known.modalities:
            able = ", ".join(models_taking(source.kind))
            raise media_error(
                document.id, where, f"{self.model_name} does not take {source.kind}; models that do: {able}"
            )
        if self.fuse_content and text is not None and source.kind == "pdf":
            problem = (
                "it is a PDF, which cannot be fused with the document's text (fuse_content=True): the API takes "
                "a PDF only alone in its request. Embed the PDF without fuse_content, or split it into page images"
            )
            raise media_error(document.id, where, problem)
        return _Planned(source, text if self.fuse_content else None)

    async def _embed(self, documents: list[Document]) -> dict[str, Any]:
        check_documents(documents, "JinaDocumentMediaEmbedder", "To embed one file or URL, use JinaMediaEmbedder.")
        plans = check_each(documents, self._plan, raise_on_failure=self.raise_on_failure)

        def is_pdf(plan: _Planned | JinaInputError) -> bool:
            return isinstance(plan, _Planned) and plan.source is not None and plan.source.kind == "pdf"

        # "PDFs must be sent as single inputs, not in a list": each PDF is a request of its own
        alone = [p for p, plan in enumerate(plans) if is_pdf(plan)]
        batched = [p for p, plan in enumerate(plans) if not is_pdf(plan)]
        groups = [[batched[p] for p in group] for group in batch_positions(len(batched), self.batch_size)]
        groups += [[p] for p in alone]

        def make_input(position: int) -> Any:
            # runs in the request's worker once it has its slot: the file exists in memory only while in flight
            plan = unwrap(plans[position])
            assert isinstance(plan, _Planned)  # for mypy, which infers `object` from unwrap
            if plan.source is None:
                return plan.text
            item = media_input(plan.source, media_base64(plan.source))
            return {"content": [{"text": plan.text}, item]} if plan.text is not None else item

        def size_of(positions: list[int]) -> tuple[int, int]:
            chars, files = 0, 0
            for position in positions:
                plan = plans[position]
                if isinstance(plan, _Planned):
                    chars += len(plan.text or "")
                    files += plan.source is not None
            return chars, files

        result = await self._embed_documents(
            documents,
            groups,
            make_input,
            options=self._options(),
            size_of=size_of,
            prepare_in_thread=True,
        )
        for document, plan in zip(result["documents"], plans, strict=True):
            if document.embedding is not None and isinstance(plan, _Planned):
                document.meta["embedding_source"] = {
                    "type": plan.source.kind if plan.source is not None else "text",
                    "fused": plan.source is not None and plan.text is not None,
                    "file_path_meta_field": self.file_path_meta_field,
                }
        return result
