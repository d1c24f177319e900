"""JinaSparseDocumentEmbedder: sets `sparse_embedding` on Documents with Jina's `elser-v2`, several requests at a time.

```python
from haystack import Document
from haystack_integrations.components.embedders.jina import JinaSparseDocumentEmbedder

# JINA_API_KEY must be set
embedder = JinaSparseDocumentEmbedder()
result = embedder.run([Document(content="Honey bees make honey from nectar.")])
print(result["documents"][0].sparse_embedding, result["meta"]["usage"])
```

Put it beside `JinaDocumentEmbedder` for hybrid retrieval: each fills its own field (`embedding`,
`sparse_embedding`) and leaves the other alone. Every input document comes back, in order, as a
copy; an embedded one gets `meta["sparse_token_index"]`, the name of the token -> index mapping
(`TOKEN_INDEX_MAPPING`, see the README), so a store can tell which mapping its vectors use.

elser-v2 reads 512 tokens per input (the model card; the spec says nothing about longer input). This
package assumes the API then uses the first 512 tokens, as ELSER does elsewhere, rather than failing:
split long documents into passages (for example ~300 words with Haystack's `DocumentSplitter`).
"""

from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import DocumentEmbedderBase, stored_as
from haystack_integrations.common.jina.documents import check_documents, check_each, text_size, text_to_embed, unwrap
from haystack_integrations.common.jina.embeddings import (
    EMBEDDINGS_URL,
    batch_positions,
    check_batch_size,
)
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.sparse import (
    SPARSE,
    TOKEN_INDEX_MAPPING,
    TOKEN_INDEX_META_KEY,
    check_sparse_model,
)


@component
class JinaSparseDocumentEmbedder(DocumentEmbedderBase):
    """
    Sets `sparse_embedding` on Documents with Jina's `elser-v2`, several requests at once, and keeps any
    dense `embedding` they have (for hybrid retrieval). It returns copies of all of them, in input order,
    and `meta` with the `model`, the summed `usage` and the name of the token -> index mapping.
    """

    init_attributes = stored_as(model="model_name")

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "elser-v2",
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        task: str | None = "retrieval.passage",
        *,
        base_url: str = EMBEDDINGS_URL,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        raise_on_failure: bool = True,
    ) -> None:
        """
        Create a JinaSparseDocumentEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: The sparse model: `elser-v2`. A known dense model, or a typo of `elser-v2`, raises
            `ValueError`; other names pass through unchecked.
        :param prefix: Text added before each document's text.
        :param suffix: Text added after each document's text.
        :param batch_size: Documents per request (at most 2048).
        :param progress_bar: Show a progress bar counting embedded documents.
        :param meta_fields_to_embed: Meta fields whose values are embedded with the content, before it.
        :param embedding_separator: Joins the meta values and the content.
        :param task: `retrieval.passage` (the default, for documents) or `retrieval.query`; `None` leaves it
            out of the request.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more.
        :param raise_on_failure: If `True`, a failed request or a document with nothing to embed raises. If
            `False`, the affected documents come back without `sparse_embedding` (any dense `embedding`
            they had is kept) and `meta["failed_documents"]` lists their ids with the error.
        """
        check_batch_size(batch_size)
        check_base_url(base_url)
        check_sparse_model(model, task)
        self.model_name = model
        self.prefix = prefix
        self.suffix = suffix
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.task = task
        self.base_url = base_url
        self.raise_on_failure = raise_on_failure
        self._connect(api_key, timeout, max_retries, max_concurrency)

    def _text_to_embed(self, document: Document) -> str:
        return text_to_embed(document, self.meta_fields_to_embed, self.embedding_separator, self.prefix, self.suffix)

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Set `sparse_embedding` on a list of Documents.

        :param documents: The Documents to embed.
        :returns: `documents`: copies of all inputs, in order, with `sparse_embedding` set; `meta`: `model`,
            summed `usage`, `sparse_token_index`, and with `raise_on_failure=False` `failed_documents`
            (`{"id", "error"}` per document left without a sparse embedding).
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
        check_documents(
            documents, "JinaSparseDocumentEmbedder", "To embed a single string, use JinaSparseTextEmbedder."
        )
        texts = check_each(documents, self._text_to_embed, raise_on_failure=self.raise_on_failure)
        result = await self._embed_documents(
            documents,
            batch_positions(len(documents), self.batch_size),
            lambda position: unwrap(texts[position]),
            options={"task": self.task},
            size_of=text_size(texts),
            embedded_meta={TOKEN_INDEX_META_KEY: TOKEN_INDEX_MAPPING},
            embedding_format=SPARSE,
        )
        result["meta"][TOKEN_INDEX_META_KEY] = TOKEN_INDEX_MAPPING
        return result
