"""A query pipeline on Jina's components, served by Hayhooks: `POST /jina_search/run {"query": "..."}`.

JinaTextEmbedder -> InMemoryEmbeddingRetriever -> JinaRanker, over 200 notes indexed in `setup()`. The key
and endpoint come from the environment (`JINA_API_KEY`, and `JINA_API_BASE_URL` against the emulator);
`JINA_RATE_LIMITS` is the key's total, however many workers share it. See ../README.md.
"""

from hayhooks import BasePipelineWrapper
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.components.rankers.jina import JinaRanker

TOPICS = ["bees", "mountains", "rivers", "late chunking", "rerankers", "the reader api", "haystack", "pizza"]


def notes(count: int = 200) -> list[Document]:
    return [Document(content=f"Note {i} about {TOPICS[i % len(TOPICS)]}: fact number {i}.") for i in range(count)]


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        # Warm up here: a missing or malformed key raises now and stops the start-up, instead of a server
        # that answers "Up!" without this pipeline; indexing the notes checks the key with the API too.
        store = InMemoryDocumentStore()
        indexer = JinaDocumentEmbedder(progress_bar=False)
        store.write_documents(indexer.run(notes())["documents"])
        indexer.close()  # done with it; the query components keep their connections open

        pipeline = Pipeline()
        pipeline.add_component("embedder", JinaTextEmbedder())
        pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=10))
        pipeline.add_component("ranker", JinaRanker(top_k=3))
        pipeline.connect("embedder.embedding", "retriever.query_embedding")
        pipeline.connect("retriever.documents", "ranker.documents")
        pipeline.warm_up()
        self.pipeline = pipeline

    async def run_api_async(self, query: str) -> list[str]:
        """
        Search the notes: the three passages that answer the query best.

        :param query: What to look for, in plain words.
        """
        result = await self.pipeline.run_async({"embedder": {"text": query}, "ranker": {"query": query}})
        return [document.content for document in result["ranker"]["documents"]]
