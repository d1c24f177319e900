"""JinaDocumentImageEmbedder: embeds the images that Documents point to with a Jina multimodal model.

The vectors share one space with the texts the same model embeds (`JinaTextEmbedder` with
`model="jina-clip-v2"`), so a text query finds images.

```python
from haystack import Document
from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder

# JINA_API_KEY must be set
embedder = JinaDocumentImageEmbedder(model="jina-clip-v2", image_size=(512, 512))
documents = [
    Document(content="A cat", meta={"file_path": "cat.jpg"}),
    Document(content="Page 2 of the report", meta={"file_path": "report.pdf", "page_number": 2}),
]
result = embedder.run(documents)
print(result["documents"][0].embedding[:3], result["meta"]["usage"])
```

Each document names its file in `meta[file_path_meta_field]` (relative to `root_path` when given):
JPEG, PNG, WebP, GIF (first frame), BMP or TIFF, or a PDF together with `meta["page_number"]`
(1-based, as Haystack's converters write it), or an `http(s)` URL, which is sent as it is for Jina
to fetch (nothing is downloaded here); a PDF's URL is sent alone as `{"pdf": url}`, and with
`page_number` it is an input error (the API cannot select a page: download it). Images are
EXIF-rotated, converted to RGB (alpha is kept as PNG only where it carries something), shrunk to fit
`image_size`, and sent as plain base64 (as Jina's `ImageDoc` takes them). No image goes out over the
API's 8 MB per image: even with `image_size=None`, a larger one is re-encoded and shrunk until it fits.
They are prepared batch by batch just before their request and dropped after it, so memory stays
bounded by `batch_size x max_concurrency` images whatever the number of documents.

Every input document comes back, in order, as a copy with `embedding` set and
`meta["embedding_source"] = {"type": "image", "file_path_meta_field": ...}`. A document whose image
cannot be used (missing meta field or file, corrupt or unsupported file, PDF page missing or out of
range, path outside `root_path`, image over Pillow's decompression-bomb limit, image that cannot be
brought under 8 MB) raises `JinaInputError`
naming the document and the path, or with `raise_on_failure=False` comes back without embedding and
is listed in `meta["failed_documents"]`.
"""

from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import DocumentEmbedderBase, stored_as
from haystack_integrations.common.jina.documents import check_documents, check_each, image_size_of, unwrap
from haystack_integrations.common.jina.embeddings import (
    EMBEDDINGS_URL,
    batch_positions,
    check_batch_size,
    check_dimensions,
)
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.images import (
    ImageSource,
    ImageURL,
    check_image_size,
    resolve_image_source,
)
from haystack_integrations.common.jina.models import check_embedding_model

JINA_API_URL = EMBEDDINGS_URL


@component
class JinaDocumentImageEmbedder(DocumentEmbedderBase):
    """
    Embeds the images that Documents point to (an image file, a PDF page or an image URL in
    `meta["file_path"]`) with a Jina multimodal model such as jina-clip-v2. It returns copies of the
    Documents, in input order, with `embedding` set. The vectors share one space with the texts the same
    model embeds, so a `JinaTextEmbedder` query with that model finds images.
    """

    #: `dimensions` is another name of `embedding_dimension`: only that one is written
    init_attributes = stored_as(model="model_name", dimensions=None)

    #: what the published package writes
    always_serialized = frozenset(
        {"api_key", "model", "base_url", "file_path_meta_field", "root_path", "embedding_dimension", "image_size"}
        | {"batch_size"}
    )

    def __init__(
        self,
        *,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "jina-clip-v2",
        base_url: str = JINA_API_URL,
        file_path_meta_field: str = "file_path",
        root_path: str | None = None,
        embedding_dimension: int | None = None,
        image_size: tuple[int, int] | None = None,
        batch_size: int = 5,
        task: str | None = None,
        progress_bar: bool = True,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        raise_on_failure: bool = True,
        dimensions: int | None = None,
    ) -> None:
        """
        Create a JinaDocumentImageEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: A Jina multimodal model: `jina-clip-v2` (default), `jina-clip-v1` or `jina-embeddings-v4`.
            A known text-only model, or a `task` / `embedding_dimension` the model does not have,
            raises `ValueError` at construction.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param file_path_meta_field: The meta field holding the path of the image or PDF file.
        :param root_path: The folder that relative paths are resolved against. When set, a path that
            resolves outside it (`../`, an absolute path elsewhere, a symlink out) is refused. `None` takes
            paths as they are (relative to the working directory).
        :param embedding_dimension: Truncate vectors to this many dimensions (Matryoshka models:
            jina-clip-v2, jina-embeddings-v4). `None` keeps the model's size. Also taken as `dimensions`,
            the other embedders' name for it; it is serialized as `embedding_dimension`.
        :param image_size: A `(width, height)` box; larger images and PDF pages are shrunk to fit it,
            keeping their aspect ratio. Smaller uploads and much faster preparation (JPEGs are decoded at
            reduced scale, PDF pages rendered at the needed scale). `None` sends images at their size
            and renders PDF pages at 300 dpi.
        :param batch_size: Images per request.
        :param task: The task adapter, for models that take one (jina-embeddings-v4: for example
            `retrieval.passage`; jina-clip-v2 accepts only `retrieval.query`, jina-clip-v1 none).
            `None` sends none.
        :param progress_bar: Show a progress bar counting embedded documents.
        :param max_concurrency: Requests in flight at once (each with its batch of prepared images), at
            most, from the first request; fewer only while the key's limits require it. `None` follows the
            key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server accepts more, up to 16
            (each request holds its images in memory: at most `batch_size x 16` images unless you say more).
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param raise_on_failure: If `True`, a failed request or an unusable document raises. If `False`,
            the affected documents come back without embedding and `meta["failed_documents"]` lists their
            ids with the error; the rest are embedded.
        :param dimensions: Another name of `embedding_dimension`, as the other embedders call it. Give one
            of the two, or both with the same value.
        """
        check_batch_size(batch_size)
        check_base_url(base_url)
        self.model_name = model
        self.base_url = base_url
        self.file_path_meta_field = file_path_meta_field
        self.root_path = root_path or ""
        self.embedding_dimension = _one_dimension(embedding_dimension, dimensions)
        self.image_size = check_image_size(image_size)
        self.batch_size = batch_size
        self.task = task
        self.progress_bar = progress_bar
        self.raise_on_failure = raise_on_failure
        check_embedding_model(
            model,
            {"task": task, "dimensions": self.embedding_dimension},
            images=True,
            names={"dimensions": "embedding_dimension"},
        )
        # unstated, the key's growing bound applies up to 16: each request carries images, held while in flight
        self._connect(
            api_key, timeout=timeout, max_retries=max_retries, max_concurrency=max_concurrency, unstated_cap=16
        )

    @property
    def dimensions(self) -> int | None:
        """`embedding_dimension` under the name the other embedders use."""
        return self.embedding_dimension

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed the images of a list of Documents.

        :param documents: Documents whose meta names an image file or a PDF page.
        :returns: `documents`: copies of all inputs, in order, with `embedding` and
            `meta["embedding_source"]` set; `meta`: `model`, summed `usage`, and `failed_documents`
            (`{"id", "error"}` per document left without embedding).
        :raises TypeError: If the input is not a list of Documents.
        :raises JinaError: If a request fails or a document's image cannot be used (with `raise_on_failure`).
        """
        return self._call(self._run(documents))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed the images of Documents without blocking the event loop. Same parameters and result as `run`.

        :param documents: Documents whose meta names an image file or a PDF page.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._run(documents))

    async def _run(self, documents: list[Document]) -> dict[str, Any]:
        check_documents(documents, "JinaDocumentImageEmbedder", "To embed a string, use JinaTextEmbedder.")

        # Cheap checks first (meta, paths, types: no file is read), so a bad document fails before any request.
        def locate(document: Document) -> ImageSource | ImageURL:
            return resolve_image_source(
                document.id, document.meta, file_path_meta_field=self.file_path_meta_field, root_path=self.root_path
            )

        sources = check_each(documents, locate, raise_on_failure=self.raise_on_failure)

        # The API takes a PDF given by URL only alone in its request; the other documents go in batches.
        alone = [p for p, s in enumerate(sources) if isinstance(s, ImageURL) and s.is_pdf]
        batched = sorted(set(range(len(documents))) - set(alone))
        groups = [[batched[p] for p in group] for group in batch_positions(len(batched), self.batch_size)]
        groups += [[p] for p in alone]
        return await self._embed_documents(
            documents,
            groups,
            lambda position: unwrap(sources[position]),  # raises the document's own input error
            options={"task": self.task, "dimensions": self.embedding_dimension},
            size_of=image_size_of,
            embedded_meta={"embedding_source": {"type": "image", "file_path_meta_field": self.file_path_meta_field}},
            # each request's images are prepared in parallel once it has its slots, held only while in flight
            images={p: s for p, s in enumerate(sources) if isinstance(s, ImageSource | ImageURL)},
            image_size=self.image_size,
        )


def _one_dimension(embedding_dimension: int | None, dimensions: int | None) -> int | None:
    """The vector size asked for under either name; both given must agree."""
    checked = check_dimensions(embedding_dimension, "embedding_dimension")
    alias = check_dimensions(dimensions, "dimensions")
    if checked is not None and alias is not None and checked != alias:
        msg = (
            f"embedding_dimension={checked} and dimensions={alias} disagree: they are two names of one "
            "parameter; give one of them."
        )
        raise ValueError(msg)
    return checked if checked is not None else alias
