"""Visual RAG: embed images and PDF pages, retrieve them for a text query, rerank them with jina-reranker-m0.

    python examples/10_visual_rerank.py

The example draws a few images and a 3-page PDF with Pillow into a temporary folder. Every image and PDF
page becomes a Document with no text, only `meta["file_path"]` (and `meta["page_number"]`), as Haystack's
image converters write them. JinaDocumentImageEmbedder (jina-clip-v2) embeds them into an
InMemoryDocumentStore; a pipeline then embeds the text query (JinaTextEmbedder, jina-clip-v2), retrieves
the nearest images (InMemoryEmbeddingRetriever), and reranks those images with JinaRanker
(jina-reranker-m0), which reads the images themselves, not a caption.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import requests
from _jina import JinaApi, jina
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from PIL import Image, ImageDraw

from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder, JinaTextEmbedder
from haystack_integrations.components.rankers.jina import JinaRanker

SIZE = (256, 256)
QUERIES = ["a red square", "a teal bar chart"]
IMAGE_SIZE = (512, 512)  # both the embedder and the ranker shrink images to fit this box before upload


def shape(kind: str, colour: str) -> Image.Image:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    if kind == "circle":
        draw.ellipse((48, 48, 208, 208), fill=colour)
    else:
        draw.rectangle((48, 48, 208, 208), fill=colour)
    return image


def report_pages() -> list[Image.Image]:
    """A title page, a teal bar chart and a page of red warnings."""
    pages = [Image.new("RGB", (420, 595), "white") for _ in range(3)]
    title, chart, warnings = (ImageDraw.Draw(page) for page in pages)
    title.rectangle((0, 0, 420, 120), fill="navy")
    title.text((30, 50), "Quarterly report", fill="white")
    chart.line((40, 500, 380, 500), fill="black", width=3)
    for i, height in enumerate((120, 260, 180, 340)):
        chart.rectangle((60 + i * 80, 500 - height, 110 + i * 80, 500), fill="teal")
    for i in range(4):
        warnings.rectangle((40, 60 + i * 120, 380, 140 + i * 120), outline="red", width=8)
    return pages


def make_files(folder: Path) -> list[Document]:
    """One Document per image and per PDF page: no content, the file in its meta."""
    documents = []
    for kind, colour in (("square", "red"), ("circle", "green"), ("square", "blue"), ("circle", "orange")):
        name = f"{colour}_{kind}.png"
        shape(kind, colour).save(folder / name)
        documents.append(Document(meta={"file_path": name}))
    first, *rest = report_pages()
    first.save(folder / "report.pdf", save_all=True, append_images=rest)
    documents += [Document(meta={"file_path": "report.pdf", "page_number": page}) for page in (1, 2, 3)]
    return documents


def label(document: Document) -> str:
    page = document.meta.get("page_number")
    return document.meta["file_path"] + (f", page {page}" if page else "")


def emulator_order(api: JinaApi, candidates: list[Document]) -> list[tuple[str, float]]:
    """Ask the emulator directly to score what the ranker sent; its order is the order the ranker must return."""
    assert api.emulator is not None
    body = api.emulator.requests_to("/v1/rerank")[-1].json
    headers = {"Authorization": f"Bearer {api.emulator.api_key}"}
    answer = requests.post(api.emulator.rerank_url, json={**body, "top_n": None}, headers=headers, timeout=30)
    answer.raise_for_status()
    return [(candidates[r["index"]].id, r["relevance_score"]) for r in answer.json()["results"]]


def main() -> None:
    with jina() as api, tempfile.TemporaryDirectory(prefix="jina-visual-rag-") as tmp:
        folder = Path(tmp)
        documents = make_files(folder)
        embedder = JinaDocumentImageEmbedder(
            model="jina-clip-v2", root_path=tmp, image_size=IMAGE_SIZE, progress_bar=False, **api.embedder_args()
        )
        embedded = embedder.run(documents)["documents"]
        assert all(document.embedding for document in embedded), "every image and page is embedded"
        store = InMemoryDocumentStore(embedding_similarity_function="cosine")
        store.write_documents(embedded)
        print(f"Embedded {len(embedded)} images and PDF pages from {folder}")

        pipeline = Pipeline()
        pipeline.add_component("query_embedder", JinaTextEmbedder(model="jina-clip-v2", **api.embedder_args()))
        pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=5))
        ranker = JinaRanker(
            model="jina-reranker-m0", top_k=3, root_path=tmp, image_size=IMAGE_SIZE, **api.ranker_args()
        )
        pipeline.add_component("ranker", ranker)
        pipeline.connect("query_embedder.embedding", "retriever.query_embedding")
        pipeline.connect("retriever.documents", "ranker.documents")

        for query in QUERIES:
            result = pipeline.run(
                {"query_embedder": {"text": query}, "ranker": {"query": query}}, include_outputs_from={"retriever"}
            )
            retrieved, ranked = result["retriever"]["documents"], result["ranker"]["documents"]
            print(f"\nQuery: {query!r}")
            print("  retrieved (clip-v2 cosine): " + ", ".join(label(d) for d in retrieved))
            for document in ranked:
                print(f"  reranked   {document.score:.3f}  {label(document)}")
            scores = [document.score for document in ranked]
            assert len(ranked) == 3 and scores == sorted(scores, reverse=True), "best first"
            sent = api.emulator.requests_to("/v1/rerank")[-1].json["documents"] if api.emulator else []
            assert all(set(item) == {"image"} for item in sent), "m0 is sent the images, not text"
            if api.emulated:
                expected = emulator_order(api, retrieved)[:3]
                assert [(d.id, d.score) for d in ranked] == expected, "the order of the emulator's scores"
        if api.emulated:
            print(
                "\nNote: the emulator is not a model. It ranks images for a text query by the colours the query\n"
                "      names (so 'teal' finds the chart); with --live, jina-reranker-m0 reads shapes and text."
            )
        print("\nOK")


if __name__ == "__main__":
    main()
