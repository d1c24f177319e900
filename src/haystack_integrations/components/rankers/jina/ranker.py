"""JinaRanker: ranks Documents by their relevance to a query with a Jina reranker model.

```python
from haystack import Document
from haystack_integrations.components.rankers.jina import JinaRanker

# JINA_API_KEY must be set
ranker = JinaRanker(model="jina-reranker-v2-base-multilingual", top_k=2)
docs = [Document(content="Paris"), Document(content="Berlin"), Document(content="Bananas")]
result = ranker.run(query="City in Germany", documents=docs)
print(result["documents"][0].content, result["meta"])
# Berlin {'model': 'jina-reranker-v2-base-multilingual', 'usage': {'total_tokens': ...}}
```

Models (see jina.ai/reranker): `jina-reranker-v1-base-en` (the default, kept for compatibility),
`jina-reranker-v1-turbo-en`, `jina-reranker-v1-tiny-en`, `jina-reranker-v2-base-multilingual`
(100+ languages, code and function-call search), `jina-reranker-v3` (listwise, multilingual, long
context; takes `max_doc_length`), `jina-reranker-m0` (multimodal: text and images, see below),
`jina-colbert-v1-en` and `jina-colbert-v2`. A known embedding model, `max_doc_length` with a model
other than v3, or an image option with a text-only model raises `ValueError` at construction; names
the package does not know pass through unchecked.

Images (jina-reranker-m0): a Document with no content (or only whitespace) whose
`meta[file_path_meta_field]` names an image is ranked as that image, with the conventions of
`JinaDocumentImageEmbedder`: a path relative to `root_path` (and kept inside it), JPEG, PNG, WebP, GIF,
BMP, TIFF, or a local PDF with `meta["page_number"]` (1-based; the page is rendered), shrunk to fit
`image_size`, sent as plain base64; an `http(s)` URL is sent as it is, for Jina to fetch (a PDF's URL
is refused: the API ranks images, not PDFs). Text and image documents can be mixed in one call. An
image that cannot be used raises `JinaInputError` naming the document and path: a missing meta field,
file or page number, or a path outside `root_path`, before any request; an unreadable file before the
request that would carry it.
Images are prepared just before their request (at most `MAX_IMAGES_PER_REQUEST`, 16, per request)
and dropped after it, so memory stays bounded whatever the number of candidates. With a text-only
model such documents are ranked as empty text, as before, and each run that has some logs one warning
naming `jina-reranker-m0` (their scores say nothing about their images).

The output documents are copies (`dataclasses.replace`) of the inputs with `score` set, best
first; the inputs are never changed. The text that is ranked is the values of
`meta_fields_to_embed` followed by the content, joined by `embedding_separator`. A document with
no content (and no such meta values) is ranked as empty text: it stays a candidate and comes
back with the score the model gives an empty text, usually at the bottom.

The API takes at most `MAX_DOCUMENTS_PER_REQUEST` (2048) documents per request. Longer candidate
lists are split into requests that are sent concurrently, and the results are merged by score.
For the pointwise rerankers (v1, v2, m0, colbert) a score depends only on the query and the one
document, so scores of one query are comparable across requests and the merge is exact.
`jina-reranker-v3` is listwise: it scores the documents of one request together, so merged scores
from different requests are only approximately comparable (a warning is logged when that happens).
"""

import asyncio
import math
from dataclasses import replace
from typing import Any

from haystack import Document, component, logging
from haystack.utils import Secret

from haystack_integrations.common.jina.batches import Job, run_job
from haystack_integrations.common.jina.component_utils import JinaComponentBase
from haystack_integrations.common.jina.documents import check_documents, text_with_meta
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.images import ImageSource, ImageURL
from haystack_integrations.common.jina.models import check_rerank_model
from haystack_integrations.common.jina.rerank import (
    MAX_DOCUMENTS_PER_REQUEST,
    RERANK_URL,
    is_listwise,
    parse_rerank_response,
    rerank_payload,
)
from haystack_integrations.components.rankers.jina.image_documents import (
    DEFAULT_FILE_PATH_META_FIELD,
    MAX_IMAGES_PER_REQUEST,
    ImageOptions,
    ImageQuery,
    check_visual_query,
    request_chunks,
    takes_images,
    visual_query_input,
    warn_of_images_ranked_as_text,
)

logger = logging.getLogger(__name__)

JINA_API_URL = RERANK_URL


def _check_query(model: str, query: Any, documents: Any, image_query: Any) -> None:
    """A text query (non-empty) or an image query the model can take, and a list of Documents."""
    if not isinstance(query, str):
        msg = f"JinaRanker expects the query as a string, got {type(query).__name__}."
        raise TypeError(msg)
    check_documents(documents, "JinaRanker")
    if image_query is not None:
        check_visual_query(model, query)
    elif not query.strip():
        msg = "JinaRanker needs a non-empty query to rank documents against."
        raise ValueError(msg)


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
        msg = f"top_k must be None or a whole number > 0, got {top_k!r}"
        raise ValueError(msg)
    if top_k is not None and top_k <= 0:
        msg = f"top_k must be > 0, but got {top_k}"
        raise ValueError(msg)


def _check_score_threshold(score_threshold: float | None) -> None:
    valid = isinstance(score_threshold, int | float) and not isinstance(score_threshold, bool)
    if score_threshold is not None and not (valid and math.isfinite(score_threshold)):
        msg = f"score_threshold must be None or a finite number, got {score_threshold!r}"
        raise ValueError(msg)


@component
class JinaRanker(JinaComponentBase):
    """
    Ranks Documents (texts, or images with jina-reranker-m0) by their relevance to a query with a Jina
    reranker model. It returns scored copies, best first (at most `top_k`, each scoring at least
    `score_threshold` when set), and `meta` with the `model` and the `usage`.
    """

    max_documents_per_request = MAX_DOCUMENTS_PER_REQUEST
    max_images_per_request = MAX_IMAGES_PER_REQUEST
    #: what the published package writes
    always_serialized = frozenset({"api_key", "model", "base_url", "top_k", "score_threshold"})

    def __init__(
        self,
        model: str = "jina-reranker-v1-base-en",
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        top_k: int | None = None,
        score_threshold: float | None = None,
        *,
        base_url: str = JINA_API_URL,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        max_doc_length: int | None = None,
        file_path_meta_field: str = DEFAULT_FILE_PATH_META_FIELD,
        root_path: str | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        """
        Create a JinaRanker.

        :param model: The Jina reranker model (see the module docstring).
        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param top_k: The most documents to return. `None` returns all of them.
        :param score_threshold: Return only documents whose score is at least this. `None` keeps all.
        :param base_url: The full URL of the rerank endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param meta_fields_to_embed: Meta fields whose values are ranked with the content, before it.
        :param embedding_separator: Joins the meta values and the content.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance
            (a candidate list over 2048 documents is split into several). `None` follows the key: the
            concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server accepts more.
        :param max_doc_length: jina-reranker-v3 only: the tokens of each document the model reads, 1 to
            8192. `None` sends nothing, and the API uses its default (2048).
        :param file_path_meta_field: Models that take images (jina-reranker-m0): the meta field holding the
            path or `http(s)` URL of the image of a Document without content.
        :param root_path: Models that take images: the folder relative paths are resolved against; a path
            resolving outside it is refused. `None` takes paths as they are.
        :param image_size: Models that take images: a `(width, height)` box; larger images and PDF pages are
            shrunk to fit it, keeping their aspect ratio. `None` sends them at their size (PDF pages at 300 dpi),
            under the API's 8 MB per image.
        :raises ValueError: If `top_k` is not a whole number > 0, `score_threshold` not a finite number,
            `base_url` is not an absolute http(s) URL, an image option is invalid, or the model is known and
            does not take a parameter (an image option with a text-only model).
        """
        _check_top_k(top_k)
        _check_score_threshold(score_threshold)
        images = ImageOptions.checked(file_path_meta_field, root_path, image_size)
        check_rerank_model(model, {"max_doc_length": max_doc_length}, images=images.changed())
        self.model = model
        check_base_url(base_url, like=JINA_API_URL)
        self.top_k = top_k
        self.score_threshold = score_threshold
        self.base_url = base_url
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.max_doc_length = max_doc_length
        self.file_path_meta_field = images.file_path_meta_field
        self.root_path = images.root_path
        self.image_size = images.image_size
        self._images = images
        self._connect(api_key, timeout, max_retries, max_concurrency)

    def _text_to_rank(self, document: Document) -> str:
        return text_with_meta(document, self.meta_fields_to_embed, self.embedding_separator)

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(
        self,
        query: str,
        documents: list[Document],
        top_k: int | None = None,
        score_threshold: float | None = None,
        image_query: ImageQuery | None = None,
    ) -> dict[str, Any]:
        """
        Rank Documents by their relevance to the query.

        :param query: The query; `""` with `image_query`.
        :param documents: The candidate Documents.
        :param top_k: The most documents to return; overrides the init value. `None` keeps it.
        :param score_threshold: Return only documents scoring at least this; overrides the init
            value. `None` keeps it. `0` and `0.0` are values like any other.
        :returns: `documents`: copies of the best documents with `score` set, best first; `meta`:
            `model` and `usage` (summed over requests; empty when no request was needed).
        :raises ValueError: If `top_k` is not > 0 or the query is empty.
        :raises TypeError: If `query` is not a string or `documents` not a list of Documents.
        :raises JinaInputError: If the image of an image document cannot be used (no request is sent).
        :param image_query: A visual query instead of `query` (jina-reranker-m0): an image path (relative to
            `root_path`), an `http(s)` URL, a `ByteStream` or an `ImageContent`. A text-only reranker refuses it.
        :raises JinaError: If the API call fails or answers something malformed; the subclass says how.
        """
        return self._call(self._run(query, documents, top_k, score_threshold, image_query))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(
        self,
        query: str,
        documents: list[Document],
        top_k: int | None = None,
        score_threshold: float | None = None,
        image_query: ImageQuery | None = None,
    ) -> dict[str, Any]:
        """
        Rank Documents without blocking the event loop. Same parameters and result as `run`.

        :param query: The query.
        :param documents: The candidate Documents.
        :param top_k: The most documents to return; overrides the init value.
        :param score_threshold: Return only documents scoring at least this; overrides the init value.
        :param image_query: A visual query instead of `query` (jina-reranker-m0), as in `run`.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._run(query, documents, top_k, score_threshold, image_query))

    async def _run(
        self,
        query: str,
        documents: list[Document],
        top_k: int | None,
        score_threshold: float | None,
        image_query: ImageQuery | None = None,
    ) -> dict[str, Any]:
        top_k = self.top_k if top_k is None else top_k
        score_threshold = self.score_threshold if score_threshold is None else score_threshold
        _check_top_k(top_k)
        _check_score_threshold(score_threshold)
        _check_query(self.model, query, documents, image_query)

        meta: dict[str, Any] = {"model": self.model, "usage": {}}
        if not documents:
            return {"documents": [], "meta": meta}
        sent_query: str | dict[str, Any] = query
        if image_query is not None:  # prepared once (decoded and shrunk like image documents), off the loop
            sent_query = {"image": await asyncio.to_thread(visual_query_input, image_query, self._images)}

        # Cheap checks first (meta, paths, types: no image is read), so a bad image fails before any request.
        images: dict[int, ImageSource | ImageURL] = {}
        if takes_images(self.model, self._images):
            images = {p: self._images.locate(d) for p, d in enumerate(documents) if self._images.is_image(d)}
        else:
            warn_of_images_ranked_as_text(self.model, documents, self._images, self._text_to_rank)
        texts = {p: self._text_to_rank(d) for p, d in enumerate(documents) if p not in images}
        chunks = request_chunks(len(documents), images, self.max_documents_per_request, self.max_images_per_request)
        if len(chunks) > 1 and is_listwise(self.model):
            logger.warning(
                "{model} is a listwise reranker: {count} documents are ranked in {requests} requests, and "
                "scores from different requests are only approximately comparable.",
                model=self.model,
                count=len(documents),
                requests=len(chunks),
            )

        def top_n(count: int) -> int | None:
            return None if top_k is None else min(top_k, count)

        def parse(answer: Any, count: int) -> tuple[list[float | None], str | None, dict[str, int]]:
            result = parse_rerank_response(answer, top_n(count) or count, count, self.base_url)
            return [result.scores.get(index) for index in range(count)], result.model, result.usage

        job: Job[float | None] = Job(
            url=self.base_url,
            input_of=lambda position: texts[position],
            body=lambda items: rerank_payload(self.model, sent_query, items, top_n(len(items)), self.max_doc_length),
            parse=parse,
            size_of=lambda positions: (
                sum(len(texts[p]) for p in positions if p not in images) + len(query) * len(positions),
                sum(p in images for p in positions) + (image_query is not None),  # the query's image is sent each time
            ),
            # each request's images are prepared in parallel once it has its slots, held only while in flight
            images=images,
            image_size=self.image_size,
            what="Ranking documents",
        )
        outcome = await run_job(self._client, job, [list(chunk) for chunk in chunks], raise_on_failure=True)
        meta["model"] = outcome.model or self.model
        meta["usage"] = outcome.usage
        scored = [(score, position) for position, score in outcome.values.items() if score is not None]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        if top_k is not None:
            scored = scored[:top_k]
        if score_threshold is not None:
            scored = [(score, position) for score, position in scored if score >= score_threshold]
        ranked = [
            replace(documents[position], score=score, meta=documents[position].meta.copy())
            for score, position in scored
        ]
        return {"documents": ranked, "meta": meta}
