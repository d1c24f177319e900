"""JinaDocumentEmbedder: embeds Documents with a Jina embedding model, several requests at a time.

```python
from haystack import Document
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder

# JINA_API_KEY must be set
embedder = JinaDocumentEmbedder(task="retrieval.passage")
result = embedder.run([Document(content="I love pizza!")])
print(result["documents"][0].embedding[:3], result["meta"]["usage"])
```

Every input document comes back, in order, as a copy (inputs are never mutated). A document whose
text to embed is empty (no content, no `meta_fields_to_embed` values) is an input error: it raises
`JinaInputError` naming the document, or with `raise_on_failure=False` comes back without embedding
and is listed in `meta["failed_documents"]`.
"""

from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import DocumentEmbedderBase, OptionsComponentBase, stored_as
from haystack_integrations.common.jina.documents import check_documents, check_each, text_size, text_to_embed, unwrap
from haystack_integrations.common.jina.embedding_options import EmbeddingOptions
from haystack_integrations.common.jina.embeddings import EMBEDDINGS_URL, batch_positions, check_batch_size
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.components.embedders.jina.late_chunking import check_source_id, late_chunking_groups

JINA_API_URL = EMBEDDINGS_URL


@component
class JinaDocumentEmbedder(DocumentEmbedderBase, OptionsComponentBase):
    """
    Embeds a list of Documents with a Jina embedding model, several requests at once. It returns
    copies of all of them, in input order, with `embedding` set, and `meta` with the `model` and the
    summed `usage`. Use `task="retrieval.passage"` for documents to retrieve; `late_chunking=True`
    embeds each chunk in the context of its source document.
    """

    init_attributes = stored_as(model="model_name")
    options_attribute = "embedding_options"

    #: what the published package writes (task, dimensions, late_chunking only when set, as it does)
    always_serialized = frozenset(
        {"api_key", "model", "base_url", "prefix", "suffix", "batch_size", "progress_bar"}
        | {"meta_fields_to_embed", "embedding_separator"}
    )

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "jina-embeddings-v3",
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        task: str | None = None,
        dimensions: int | None = None,
        late_chunking: bool | None = None,
        *,
        base_url: str = JINA_API_URL,
        embedding_type: str = "float",
        normalized: bool | None = None,
        truncate: bool | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        raise_on_failure: bool = True,
    ) -> None:
        """
        Create a JinaDocumentEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: The Jina embedding model, for example `jina-embeddings-v3`, `jina-embeddings-v4`,
            `jina-embeddings-v5-text-small` or `jina-code-embeddings-1.5b` (see the README's model
            table). A model this package knows is checked at construction: a parameter it does not
            have raises `ValueError`; ColBERT and ELSER (multi-vector / sparse output) are refused.
            Other names pass through unchecked.
        :param prefix: Text added before each document's text.
        :param suffix: Text added after each document's text.
        :param batch_size: Documents per request (at most 2048, the API's limit).
        :param progress_bar: Show a progress bar counting embedded documents.
        :param meta_fields_to_embed: Meta fields whose values are embedded with the content, before it.
        :param embedding_separator: Joins the meta values and the content.
        :param task: The task adapter; embed documents for retrieval with `retrieval.passage`.
            jina-embeddings-v3: `retrieval.query`, `retrieval.passage`, `text-matching`,
            `classification`, `separation`; jina-embeddings-v4: `retrieval.query`, `retrieval.passage`,
            `text-matching`, `code.query`, `code.passage`; v5: `retrieval.query`, `retrieval.passage`,
            `text-matching`, `clustering`, `classification`; code models: `nl2code`, `qa`, `code2code`,
            `code2nl`, `code2completion`, each `.query` / `.passage`.
        :param dimensions: Truncate vectors to this many dimensions (Matryoshka models: v3, v4, v5,
            code, clip-v2).
        :param late_chunking: Embed chunks in the context of their whole source document. The API
            reads all inputs of one request as one text, so with `late_chunking=True` requests are
            formed per source document: the chunks sharing `meta["source_id"]` (as Haystack's
            `DocumentSplitter` writes it) travel together, ordered by `meta["split_id"]`, and never
            share a request with another source. A source is split over several requests only to
            stay within the model's context (from the model catalogue: 8192 tokens for v3, 32768 for
            v4) and the 2048-input limit. Only v3 and v4 have late chunking. Documents without `source_id`
            are batched by `batch_size` in the given order.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param embedding_type: `float` (sent as base64 on the wire and decoded), `binary` or `ubinary`.
        :param normalized: Ask for L2-normalized vectors. `None` keeps the API default.
        :param truncate: Let the API cut inputs longer than the model's context. `None` keeps the default.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once, at most, from the first request; fewer only while
            the key's limits require it. `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else
            5 (the Free tier's) growing while the server accepts more (see the README's concurrency section).
        :param raise_on_failure: If `True`, a failed request or a bad document raises. If `False`, the
            affected documents come back without embedding and `meta["failed_documents"]` lists their
            ids with the error; the rest are embedded.
        """
        self.embedding_options = EmbeddingOptions.of(locals())  # task, dimensions, ..., truncate, checked
        check_batch_size(batch_size)
        check_base_url(base_url)
        self.model_name = model
        self.prefix = prefix
        self.suffix = suffix
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.base_url = base_url
        self.raise_on_failure = raise_on_failure
        self._connect(api_key, timeout, max_retries, max_concurrency)

    def _text_to_embed(self, document: Document) -> str:
        text = text_to_embed(document, self.meta_fields_to_embed, self.embedding_separator, self.prefix, self.suffix)
        if self.embedding_options.late_chunking:  # per document: the value, not the attribute view
            check_source_id(document)
        return text

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed a list of Documents.

        :param documents: The Documents to embed.
        :returns: `documents`: copies of all inputs, in order, with `embedding` set; `meta`: `model`,
            summed `usage`, and `failed_documents` (`{"id", "error"}` per document left without embedding).
        :raises TypeError: If the input is not a list of Documents.
        :raises JinaError: If a request fails or a document has nothing to embed (with `raise_on_failure`).
        """
        return self._call(self._run(documents))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed Documents without blocking the event loop. Same parameters and result as `run`.

        :param documents: The Documents to embed.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._run(documents))

    async def _run(self, documents: list[Document]) -> dict[str, Any]:
        check_documents(documents, "JinaDocumentEmbedder", "To embed a single string, use JinaTextEmbedder.")
        texts = check_each(documents, self._text_to_embed, raise_on_failure=self.raise_on_failure)

        if self.late_chunking:
            groups = late_chunking_groups(documents, texts, self.batch_size, self.model_name)
        else:
            groups = batch_positions(len(documents), self.batch_size)
        return await self._embed_documents(
            documents,
            groups,
            lambda position: unwrap(texts[position]),
            options=self.embedding_options.request_fields(),
            size_of=text_size(texts),
        )
