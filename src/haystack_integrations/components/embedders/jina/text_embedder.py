"""JinaTextEmbedder: embeds a string with a Jina embedding model. Use it to embed the query of a retrieval pipeline.

```python
from haystack_integrations.components.embedders.jina import JinaTextEmbedder

# JINA_API_KEY must be set
text_embedder = JinaTextEmbedder(task="retrieval.query")
result = text_embedder.run("I love pizza!")
print(result["embedding"][:3], result["meta"])
# [0.017, -0.023, ...] {'model': 'jina-embeddings-v3', 'usage': {'prompt_tokens': 4, 'total_tokens': 4}}
```
"""

from typing import Any

from haystack import component
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import OptionsComponentBase, stored_as
from haystack_integrations.common.jina.documents import check_text_to_embed
from haystack_integrations.common.jina.embedding_options import EmbeddingOptions
from haystack_integrations.common.jina.embeddings import EMBEDDINGS_URL, embed_one
from haystack_integrations.common.jina.endpoints import check_base_url

JINA_API_URL = EMBEDDINGS_URL


@component
class JinaTextEmbedder(OptionsComponentBase):
    """
    Embeds one string, typically a search query, with a Jina embedding model. It returns the vector as
    `embedding` and `meta` with the `model` and the `usage`. Embed queries with `task="retrieval.query"`
    and the documents they search with `JinaDocumentEmbedder(task="retrieval.passage")`.
    """

    init_attributes = stored_as(model="model_name")
    options_attribute = "embedding_options"

    #: what the published package writes (task, dimensions, late_chunking only when set, as it does)
    always_serialized = frozenset({"api_key", "model", "base_url", "prefix", "suffix"})

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "jina-embeddings-v3",
        prefix: str = "",
        suffix: str = "",
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
    ) -> None:
        """
        Create a JinaTextEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: The Jina embedding model, for example `jina-embeddings-v3`, `jina-embeddings-v4`,
            `jina-embeddings-v5-text-small`, `jina-code-embeddings-1.5b`, `jina-clip-v2` or
            `jina-embeddings-v2-base-en` (see the README's model table). A model this package knows is
            checked at construction: a parameter it does not have raises `ValueError`. ColBERT and
            ELSER models answer multi-vector / sparse embeddings and are refused. Other names pass
            through unchecked.
        :param prefix: Text added before the input text.
        :param suffix: Text added after the input text.
        :param task: The task adapter. jina-embeddings-v3: `retrieval.query`, `retrieval.passage`,
            `text-matching`, `classification`, `separation`; jina-embeddings-v4: `retrieval.query`,
            `retrieval.passage`, `text-matching`, `code.query`, `code.passage`; v5: `retrieval.query`,
            `retrieval.passage`, `text-matching`, `clustering`, `classification`; code models:
            `nl2code`, `qa`, `code2code`, `code2nl`, `code2completion`, each `.query` / `.passage`.
            For retrieval, embed queries with `retrieval.query` and documents with `retrieval.passage`.
        :param dimensions: Truncate vectors to this many dimensions (Matryoshka models: v3, v4, v5,
            code, clip-v2).
        :param late_chunking: Sent when `True` (v3 and v4 only); it only changes results for several
            inputs of one request, so it matters for `JinaDocumentEmbedder`.
        :param base_url: The full URL of the embeddings endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param embedding_type: `float` (a list of floats; sent as base64 on the wire and decoded),
            `binary` (int8, 8 dimensions per value) or `ubinary` (uint8).
        :param normalized: Ask for L2-normalized vectors (not v4 or code models). `None` keeps the API default.
        :param truncate: Let the API cut inputs longer than the model's context instead of failing.
            `None` keeps the API default.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent `run` / `run_async`
            calls of this instance (a serving pipeline shares one). `None` follows the key: the concurrency
            of `JINA_RATE_LIMITS`, else 5 (the Free tier's) growing while the server accepts more.
        """
        self.embedding_options = EmbeddingOptions.of(locals())  # task, dimensions, ..., truncate, checked
        check_base_url(base_url)
        self.model_name = model
        self.prefix = prefix
        self.suffix = suffix
        self.base_url = base_url
        self._connect(api_key, timeout, max_retries, max_concurrency)

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """
        Embed one string.

        :param text: The text to embed.
        :returns: `embedding` (a list of floats, or of ints for binary types) and `meta` with `model`
            and `usage`.
        :raises TypeError: If `text` is not a string.
        :raises JinaInputError: If `text` is empty or only whitespace (a `ValueError`; nothing is sent).
        :raises JinaError: If the API call fails; the subclass says how.
        """
        return self._call(self._run(text))

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """
        Embed one string without blocking the event loop. Same parameters and result as `run`.

        :param text: The text to embed.
        :returns: `embedding` and `meta`, as `run`.
        """
        return await self._call_async(self._run(text))

    async def _run(self, text: str) -> dict[str, Any]:
        # "a string as an input": the published wording, which code may match
        check_text_to_embed(text, "JinaTextEmbedder", "JinaDocumentEmbedder", expects="a string as an input")
        options = self.embedding_options.request_fields()
        text = self.prefix + text + self.suffix
        embedding, meta = await embed_one(self._client, self.base_url, self.model_name, text, options)
        return {"embedding": embedding, "meta": meta}
