"""JinaSparseTextEmbedder: embeds a string into a sparse vector with Jina's `elser-v2`, for the query of a
sparse or hybrid retrieval pipeline (with `JinaSparseDocumentEmbedder` on the documents).

```python
from haystack_integrations.components.embedders.jina import JinaSparseTextEmbedder

# JINA_API_KEY must be set
embedder = JinaSparseTextEmbedder()
result = embedder.run("How do bees make honey?")
print(result["sparse_embedding"].indices[:3], result["meta"])
```

ELSER answers a weight per token; each token becomes an integer index by the package's stable,
versioned mapping (`TOKEN_INDEX_MAPPING`, described in `common/jina/sparse.py` and the README), so
a query embedded by any later release matches documents stored today. `meta` names the mapping.
"""

from typing import Any

from haystack import component
from haystack.dataclasses import SparseEmbedding
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import JinaComponentBase, stored_as
from haystack_integrations.common.jina.documents import check_text_to_embed
from haystack_integrations.common.jina.embeddings import EMBEDDINGS_URL, embed_one
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.sparse import (
    SPARSE,
    TOKEN_INDEX_MAPPING,
    TOKEN_INDEX_META_KEY,
    check_sparse_model,
)


@component
class JinaSparseTextEmbedder(JinaComponentBase):
    """
    Embeds a string (the query of a sparse or hybrid retrieval pipeline) into a sparse vector with Jina's
    `elser-v2`, tokens mapped to indices by the package's stable, versioned mapping. It returns the
    `sparse_embedding` and `meta` with the `model`, the `usage` and the mapping's name.
    """

    init_attributes = stored_as(model="model_name")

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "elser-v2",
        prefix: str = "",
        suffix: str = "",
        task: str | None = "retrieval.query",
        *,
        base_url: str = EMBEDDINGS_URL,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        """
        Create a JinaSparseTextEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: The sparse model: `elser-v2`. A known dense model, or a typo of `elser-v2`, raises
            `ValueError`; other names pass through unchecked.
        :param prefix: Text added before the input text.
        :param suffix: Text added after the input text.
        :param task: `retrieval.query` (the default, for queries) or `retrieval.passage`; `None` leaves it
            out of the request.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more.
        """
        check_base_url(base_url)
        check_sparse_model(model, task)
        self.model_name = model
        self.prefix = prefix
        self.suffix = suffix
        self.task = task
        self.base_url = base_url
        self._connect(api_key, timeout, max_retries, max_concurrency)

    @component.output_types(sparse_embedding=SparseEmbedding, meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """
        Embed one string into a sparse vector.

        :param text: The text to embed.
        :returns: `sparse_embedding` (a `SparseEmbedding`) and `meta` with `model`, `usage` and
            `sparse_token_index` (the name of the token -> index mapping).
        :raises TypeError: If `text` is not a string.
        :raises JinaInputError: If `text` is empty or only whitespace (a `ValueError`; nothing is sent).
        :raises JinaError: If the API call fails; the subclass says how.
        """
        return self._call(self._run(text))

    @component.output_types(sparse_embedding=SparseEmbedding, meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """
        Embed one string without blocking the event loop. Same parameters and result as `run`.

        :param text: The text to embed.
        :returns: `sparse_embedding` and `meta`, as `run`.
        """
        return await self._call_async(self._run(text))

    async def _run(self, text: str) -> dict[str, Any]:
        check_text_to_embed(text, "JinaSparseTextEmbedder", "JinaSparseDocumentEmbedder")
        text = self.prefix + text + self.suffix
        embedding, meta = await embed_one(
            self._client, self.base_url, self.model_name, text, {"task": self.task}, SPARSE
        )
        return {"sparse_embedding": embedding, "meta": {**meta, TOKEN_INDEX_META_KEY: TOKEN_INDEX_MAPPING}}
