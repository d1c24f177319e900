"""JinaMediaEmbedder: embeds one image, PDF, audio clip or video (a query) with a Jina omni model.

```python
from haystack_integrations.components.embedders.jina import JinaMediaEmbedder

# JINA_API_KEY must be set
query_embedder = JinaMediaEmbedder()  # jina-embeddings-v5-omni-small, task retrieval.query
result = query_embedder.run("photo_of_the_bike.jpg")
print(result["embedding"][:3], result["meta"]["usage"])
```

The output is `embedding` and `meta`, as `JinaTextEmbedder`'s, so a retriever takes it unchanged: the query
side of `JinaDocumentMediaEmbedder`. For text queries against the same index use `JinaTextEmbedder` with
the same model (or the matching v5-text model: their text vectors are the same).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from haystack import component
from haystack.dataclasses import ByteStream, ImageContent
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import JinaComponentBase, stored_as
from haystack_integrations.common.jina.embeddings import (
    EMBEDDINGS_URL,
    check_dimensions,
    embed_one,
)
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.media import (
    MAX_MEDIA_FILE_BYTES,
    kind_of_bytes,
    media_base64,
    media_error,
    media_input,
    resolve_media,
    supported_types,
)
from haystack_integrations.common.jina.models import EMBEDDING_MODELS, check_embedding_model, models_taking

JINA_API_URL = EMBEDDINGS_URL
#: What `run` takes: a path or URL, a `ByteStream`, or Haystack's `ImageContent`.
MediaInput = str | Path | ByteStream | ImageContent


@component
class JinaMediaEmbedder(JinaComponentBase):
    """
    Embeds one media input (an image, a PDF, an audio clip or a video: a path, a URL, a `ByteStream` or an
    `ImageContent`) with a Jina omni model, jina-embeddings-v5-omni-small by default. It returns `embedding`
    and `meta` like `JinaTextEmbedder`, so it is the query embedder of a retrieval pipeline whose documents
    `JinaDocumentMediaEmbedder` embedded.
    """

    init_attributes = stored_as(model="model_name")

    def __init__(
        self,
        *,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "jina-embeddings-v5-omni-small",
        base_url: str = JINA_API_URL,
        root_path: str | None = None,
        task: str | None = "retrieval.query",
        dimensions: int | None = None,
        normalized: bool | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        """
        Create a JinaMediaEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: `jina-embeddings-v5-omni-small` (default) or `jina-embeddings-v5-omni-nano`; an image
            model (jina-embeddings-v4, jina-clip-v2) takes images and PDFs only. A known text-only model
            raises `ValueError` naming the models that take media.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param root_path: The folder relative paths are resolved against; a path outside it is refused.
        :param task: The task adapter; `retrieval.query` (default) for queries.
        :param dimensions: Truncate vectors to this many dimensions (those of the documents' vectors).
        :param normalized: Ask for L2-normalized vectors. `None` keeps the API default (true).
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once over all concurrent calls of this instance.
            `None` follows the key.
        """
        check_base_url(base_url)
        self.model_name = model
        self.base_url = base_url
        self.root_path = root_path
        self.task = task
        self.dimensions = check_dimensions(dimensions)
        self.normalized = normalized
        check_embedding_model(model, self._options(), images=True)
        self._connect(api_key, timeout, max_retries, max_concurrency)

    def _options(self) -> dict[str, Any]:
        return {"task": self.task, "dimensions": self.dimensions, "normalized": self.normalized}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, media: MediaInput, mime_type: str | None = None) -> dict[str, Any]:
        """
        Embed one media input.

        :param media: A file path, an `http(s)` URL (sent as it is), a `ByteStream` or an `ImageContent`.
        :param mime_type: The input's type, when its name or `ByteStream.mime_type` does not tell it
            (otherwise it is guessed from the extension or the bytes).
        :returns: `embedding` (a list of floats) and `meta` with `model` and `usage`.
        :raises JinaInputError: If the input cannot be used (missing, empty, unsupported or too large).
        :raises JinaError: If the API call fails; the subclass says how.
        """
        return self._call(self._embed(media, mime_type))

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, media: MediaInput, mime_type: str | None = None) -> dict[str, Any]:
        """
        Embed one media input without blocking the event loop. Same parameters and result as `run`.

        :param media: A file path, an `http(s)` URL, a `ByteStream` or an `ImageContent`.
        :param mime_type: The input's type, when it cannot be guessed.
        :returns: `embedding` and `meta`, as `run`.
        """
        return await self._call_async(self._embed(media, mime_type))

    def _input(self, media: Any, mime_type: str | None) -> dict[str, Any]:
        if isinstance(media, ImageContent):
            return {"image": media.base64_image}
        if isinstance(media, ByteStream):
            return self._bytes_input(media, mime_type)
        if not isinstance(media, str | Path):
            msg = (
                "JinaMediaEmbedder expects a path, a URL, a ByteStream or an ImageContent, got "
                f"{type(media).__name__}. To embed a string of text, use JinaTextEmbedder."
            )
            raise TypeError(msg)
        meta = {"file_path": media, **({"mime_type": mime_type} if mime_type else {})}
        source = resolve_media("", meta, file_path_meta_field="file_path", root_path=self.root_path)
        if source is None:
            raise JinaInputError("JinaMediaEmbedder was given an empty path: there is nothing to embed.")
        self._check_takes(source.kind, media)
        return media_input(source, media_base64(source))

    def _bytes_input(self, stream: ByteStream, mime_type: str | None) -> dict[str, Any]:
        name = str(stream.meta.get("file_path") or stream.meta.get("file_name") or "ByteStream")
        given = mime_type or stream.mime_type
        kind = kind_of_bytes(stream.data, given, name)
        if kind is None:
            shown = f"type {given!r}" if given else "an unknown type"
            raise media_error("", name, f"{shown} is not supported; supported: {supported_types()}")
        if not stream.data:
            raise media_error("", name, "the ByteStream is empty")
        if len(stream.data) > MAX_MEDIA_FILE_BYTES:
            mb = 1024 * 1024
            problem = f"{len(stream.data) / mb:.1f} MB, over the cap of {MAX_MEDIA_FILE_BYTES / mb:.0f} MB"
            raise media_error("", name, problem)
        self._check_takes(kind, name)
        return {kind: base64.b64encode(stream.data)}

    def _check_takes(self, kind: str, where: Any) -> None:
        known = EMBEDDING_MODELS.get(self.model_name)
        if known is not None and kind not in known.modalities:
            able = ", ".join(models_taking(kind))
            raise media_error("", where, f"{self.model_name} does not take {kind}; models that do: {able}")

    async def _embed(self, media: Any, mime_type: str | None) -> dict[str, Any]:
        item = self._input(media, mime_type)
        embedding, meta = await embed_one(
            self._client, self.base_url, self.model_name, item, self._options(), encoded=True
        )
        return {"embedding": embedding, "meta": meta}
