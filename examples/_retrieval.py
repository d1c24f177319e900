"""The retrieval pipelines of `01_retrieval.py`, shared with `05_yaml.py` and `06_async.py`.

Indexing: JinaDocumentEmbedder (task `retrieval.passage`) -> DocumentWriter -> InMemoryDocumentStore.
Query: JinaTextEmbedder (task `retrieval.query`) -> InMemoryEmbeddingRetriever (top 5)
    -> JinaRanker (jina-reranker-v2-base-multilingual, top 3).
"""

from __future__ import annotations

from typing import Any

from _jina import JinaApi
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore

from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.components.rankers.jina import JinaRanker

# Stores created with the same index share their documents, also when a pipeline is loaded from YAML.
INDEX = "jina-examples"

FACTS = {
    "bees": "Honey bees make honey from the nectar of flowers and store it in wax combs.",
    "everest": "Mount Everest, 8,849 metres above sea level, is the highest mountain on Earth.",
    "python": "The Python programming language is named after the comedy group Monty Python, not the snake.",
    "moon": "The Moon orbits the Earth about once every 27 days and always shows it the same face.",
    "coffee": "Coffee beans are the roasted seeds of the berries of the Coffea plant.",
    "octopus": "An octopus has three hearts and blue blood that carries oxygen with copper.",
    "great-wall": "The Great Wall of China was built over many centuries to protect northern borders.",
    "photosynthesis": "Plants use photosynthesis to turn sunlight, water and carbon dioxide into sugar.",
    "marathon": "A marathon is a long-distance running race of 42.195 kilometres.",
    "tea": "Green tea and black tea come from the leaves of the same plant, Camellia sinensis.",
    "volcano": "A volcano erupts when molten rock called magma rises through cracks in the crust.",
    "penguins": "Penguins are flightless birds that swim in the cold oceans of the southern hemisphere.",
    "git": "Git is a distributed version control system that tracks changes to source code files.",
    "bread": "Sourdough bread rises because wild yeast and bacteria ferment the dough.",
    "jupiter": "Jupiter is the largest planet in the solar system, a gas giant with a great red spot.",
    "chess": "In chess, the queen is the most powerful piece and can move any distance in a line.",
    "rainbow": "A rainbow appears when sunlight is refracted and reflected inside raindrops.",
    "piano": "A grand piano has 88 keys and its strings are struck by felt hammers.",
    "sahara": "The Sahara is the largest hot desert in the world, covering much of North Africa.",
    "vaccine": "A vaccine trains the immune system to recognise a virus without causing the disease.",
}
DOCUMENTS = [Document(content=text, meta={"name": name}) for name, text in FACTS.items()]

# question -> the document that must come out on top
QUERIES = {
    "How do bees make honey?": "bees",
    "What is the highest mountain on Earth?": "everest",
    "Why is the Python programming language called Python?": "python",
}


def document_store() -> InMemoryDocumentStore:
    return InMemoryDocumentStore(index=INDEX, embedding_similarity_function="cosine")


def indexing_pipeline(api: JinaApi, store: InMemoryDocumentStore) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component(
        "embedder", JinaDocumentEmbedder(task="retrieval.passage", progress_bar=False, **api.embedder_args())
    )
    pipeline.add_component("writer", DocumentWriter(document_store=store))
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline


def query_pipeline(api: JinaApi, store: InMemoryDocumentStore, pipeline_class: Any = Pipeline) -> Any:
    """The query pipeline; `pipeline_class` may be Haystack 2.x's `AsyncPipeline`."""
    pipeline = pipeline_class()
    pipeline.add_component("embedder", JinaTextEmbedder(task="retrieval.query", **api.embedder_args()))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=5))
    pipeline.add_component(
        "ranker", JinaRanker(model="jina-reranker-v2-base-multilingual", top_k=3, **api.ranker_args())
    )
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    pipeline.connect("retriever.documents", "ranker.documents")
    return pipeline


def query_inputs(question: str) -> dict[str, Any]:
    return {"embedder": {"text": question}, "ranker": {"query": question}}


def print_results(question: str, result: dict[str, Any]) -> None:
    """The retriever's candidates with their cosine similarity and the ranker's top 3 with relevance scores."""
    print(f"\nQ: {question}")
    retrieved = result.get("retriever", {}).get("documents", [])
    if retrieved:
        print("  retriever (cosine):  " + ", ".join(f"{d.meta['name']} {d.score:.3f}" for d in retrieved))
    for rank, doc in enumerate(result["ranker"]["documents"], start=1):
        print(f"  {rank}. {doc.score:.3f}  [{doc.meta['name']}] {doc.content}")


def check_top(question: str, result: dict[str, Any]) -> None:
    """Fail loudly when the expected document is not the ranker's first."""
    ranked = result["ranker"]["documents"]
    expected = QUERIES[question]
    top = ranked[0].meta["name"] if ranked else None
    if top != expected:
        msg = f"expected {expected!r} on top for {question!r}, got {top!r}"
        raise SystemExit(msg)
