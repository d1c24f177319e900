"""Route questions down different branches of one pipeline with JinaTextRouter (Jina's /v1/classify).

    python examples/11_route_queries.py          # the local JinaEmulator (whatever is exported)
    python examples/11_route_queries.py --live   # the hosted API with your JINA_API_KEY

The router classifies each question zero-shot against two labels and sends it out of the output named
after the winning label: cooking questions are embedded and searched in a recipe store, travel questions
in a travel store; the other branch does not run. Then the same routing with a few-shot classifier trained
on a handful of labelled questions with `train_classifier` (private, as it is by default here), which is
deleted at the end so no classifier is left behind on your account.
"""

from __future__ import annotations

from typing import Any

from _jina import jina, shorten
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore

from haystack_integrations.components.classifiers.jina import delete_classifier, list_classifiers, train_classifier
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.components.routers.jina import JinaTextRouter

LABELS = ["cooking", "travel"]
STORES = {
    "cooking": [
        "Cook the pasta in salted boiling water for nine minutes, then drain it.",
        "For a risotto, toast the rice in butter before cooking it slowly in stock.",
    ],
    "travel": [
        "The night train from Paris to Vienna leaves at 19:00; book a sleeper for the travel.",
        "Travel to Lisbon by train takes two days from Berlin, with a change in Paris.",
    ],
}
QUESTIONS = {
    "How long is the cooking time for pasta?": "cooking",
    "Which train can I travel on from Paris to Vienna?": "travel",
    "What is the secret of cooking a good risotto?": "cooking",
    "Where do I change trains when I travel to Lisbon?": "travel",
}
EXAMPLES = [
    ("How long should I cook pasta?", "cooking"),
    ("What is the cooking time for rice?", "cooking"),
    ("How do I make a risotto with mushrooms?", "cooking"),
    ("Which train goes from Paris to Rome?", "travel"),
    ("How do I travel from Berlin to Vienna?", "travel"),
    ("Where do I change trains for Madrid?", "travel"),
]


def routed_pipeline(router: JinaTextRouter) -> Pipeline:
    """The router, then one branch per label: embed the question, search that label's store."""
    pipeline = Pipeline()
    pipeline.add_component("router", router)
    for label, texts in STORES.items():
        store = InMemoryDocumentStore()
        indexing = Pipeline()
        indexing.add_component("embedder", JinaDocumentEmbedder(task="retrieval.passage", progress_bar=False))
        indexing.add_component("writer", DocumentWriter(store))
        indexing.connect("embedder", "writer")
        indexing.run({"embedder": {"documents": [Document(content=text) for text in texts]}})
        pipeline.add_component(f"{label}_embedder", JinaTextEmbedder(task="retrieval.query"))
        pipeline.add_component(f"{label}_retriever", InMemoryEmbeddingRetriever(store, top_k=1))
        pipeline.connect(f"router.{label}", f"{label}_embedder.text")
        pipeline.connect(f"{label}_embedder.embedding", f"{label}_retriever.query_embedding")
    return pipeline


def ask(pipeline: Pipeline, question: str) -> str:
    """Run one question; returns the branch that answered, after printing its answer."""
    result: dict[str, Any] = pipeline.run({"router": {"text": question}})
    (branch,) = [name.removesuffix("_retriever") for name in result if name.endswith("_retriever")]
    answer = result[f"{branch}_retriever"]["documents"][0].content
    print(f"  [{branch:<7}] {question}\n            -> {shorten(answer, 80)}")
    return branch


def main() -> None:
    with jina() as api:
        print(f"Zero-shot routing with the labels {LABELS}:")
        zero_shot = routed_pipeline(JinaTextRouter(labels=LABELS))
        branches = {question: ask(zero_shot, question) for question in QUESTIONS}

        classifier_id = train_classifier(EXAMPLES)  # access="private" unless asked otherwise
        print(f"\nFew-shot routing with classifier {classifier_id}, trained on {len(EXAMPLES)} labelled questions:")
        try:
            few_shot = routed_pipeline(JinaTextRouter(labels=LABELS, classifier_id=classifier_id))
            trained = {question: ask(few_shot, question) for question in QUESTIONS}
        finally:
            delete_classifier(classifier_id)
        assert classifier_id not in [c["classifier_id"] for c in list_classifiers()]

        if api.emulated:  # the emulator's answers are deterministic: check them
            assert branches == QUESTIONS, branches
            assert trained == QUESTIONS, trained
            assert api.requests_to("/v1/classify") == 2 * len(QUESTIONS)
        print(f"\nOK: {len(QUESTIONS)} questions routed, each down one branch, zero-shot and few-shot.")


if __name__ == "__main__":
    main()
