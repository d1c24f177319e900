"""Images and PDF pages: embed them with JinaDocumentImageEmbedder (jina-clip-v2), find them by text.

    python examples/03_images.py

The example draws a few images and a 2-page PDF with Pillow into a temporary folder, embeds every image
and every PDF page into an InMemoryDocumentStore, then searches them
- by text: JinaTextEmbedder(model="jina-clip-v2") puts text into the same vector space as the images;
- by image: a re-encoded copy of one image must find its original first.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _jina import jina, shorten
from haystack import Document
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from PIL import Image, ImageDraw

from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder, JinaTextEmbedder

SIZE = (256, 256)
TEXT_QUERIES = ["a red square", "a green circle on a white background", "a teal bar chart"]


def solid(color: str) -> Image.Image:
    return Image.new("RGB", SIZE, color)


def gradient() -> Image.Image:
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        draw.line([(0, y), (SIZE[0], y)], fill=(255, int(255 * y / SIZE[1]), 0))  # red to yellow
    return image


def shape(kind: str, color: str) -> Image.Image:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    box = (48, 48, 208, 208)
    if kind == "circle":
        draw.ellipse(box, fill=color)
    elif kind == "triangle":
        draw.polygon([(128, 40), (216, 216), (40, 216)], fill=color)
    else:
        draw.rectangle(box, fill=color)
    return image


def pdf_pages() -> list[Image.Image]:
    """Page 1: a title page; page 2: a bar chart."""
    title = Image.new("RGB", (420, 595), "white")
    draw = ImageDraw.Draw(title)
    draw.rectangle((0, 0, 420, 120), fill="navy")
    draw.text((30, 50), "Quarterly report", fill="white")
    draw.text((30, 160), "Prepared by the examples of jina-haystack", fill="black")
    chart = Image.new("RGB", (420, 595), "white")
    draw = ImageDraw.Draw(chart)
    draw.line((40, 500, 380, 500), fill="black", width=3)
    for i, height in enumerate((120, 260, 180, 340)):
        draw.rectangle((60 + i * 80, 500 - height, 110 + i * 80, 500), fill="teal")
    return [title, chart]


def make_files(folder: Path) -> list[Document]:
    """Write the images and the PDF; one Document per image and per PDF page."""
    images = {
        "red_square.png": (shape("square", "red"), "a red square on white"),
        "green_circle.png": (shape("circle", "green"), "a green circle on white"),
        "blue_triangle.png": (shape("triangle", "blue"), "a blue triangle on white"),
        "yellow.png": (solid("yellow"), "plain yellow"),
        "sunset_gradient.jpg": (gradient(), "a red to yellow gradient"),
    }
    documents = []
    for name, (image, description) in images.items():
        image.save(folder / name)
        documents.append(Document(content=description, meta={"file_path": str(folder / name)}))
    title, chart = pdf_pages()
    title.save(folder / "report.pdf", save_all=True, append_images=[chart])
    for page, description in ((1, "report, page 1: title page"), (2, "report, page 2: bar chart")):
        documents.append(
            Document(content=description, meta={"file_path": str(folder / "report.pdf"), "page_number": page})
        )
    return documents


def main() -> None:
    with jina() as api, tempfile.TemporaryDirectory(prefix="jina-images-") as tmp:
        folder = Path(tmp)
        documents = make_files(folder)
        embedder = JinaDocumentImageEmbedder(
            model="jina-clip-v2", image_size=(512, 512), progress_bar=False, **api.embedder_args()
        )

        start = time.perf_counter()
        result = embedder.run(documents)
        embedded = result["documents"]
        print(
            f"Embedded {len(embedded)} images and PDF pages from {folder} in {time.perf_counter() - start:.2f} s "
            f"({len(embedded[0].embedding)}-d, usage {result['meta']['usage']})"
        )
        assert len(embedded) == len(documents), "every document comes back"
        assert all(doc.embedding for doc in embedded), f"missing embeddings: {result['meta'].get('failed_documents')}"

        store = InMemoryDocumentStore(embedding_similarity_function="cosine")
        store.write_documents(embedded)
        retriever = InMemoryEmbeddingRetriever(document_store=store, top_k=3)

        if api.emulated:
            print(
                "Note: the emulator is not a model. It matches text to images on colour words only, so it\n"
                "      finds the chart below by 'teal', not by 'bar chart'; with --live,\n"
                "      jina-clip-v2 understands shapes and charts too."
            )
        text_embedder = JinaTextEmbedder(model="jina-clip-v2", **api.embedder_args())
        for query in TEXT_QUERIES:
            found = retriever.run(query_embedding=text_embedder.run(query)["embedding"])["documents"]
            print(f"\nText query: {query!r}")
            for doc in found:
                print(f"  {doc.score:.3f}  {shorten(doc.content, 40):<40} {Path(doc.meta['file_path']).name}")
            if query == "a red square":
                assert Path(found[0].meta["file_path"]).name == "red_square.png", "the red square should come first"

        # Image -> image: a JPEG copy of the green circle must find the original PNG first.
        twin = folder / "query_green_circle.jpg"
        Image.open(folder / "green_circle.png").save(twin, quality=90)
        query_doc = embedder.run([Document(content="query image", meta={"file_path": str(twin)})])["documents"][0]
        found = retriever.run(query_embedding=query_doc.embedding)["documents"]
        print(f"\nImage query: {twin.name} (a JPEG copy of green_circle.png)")
        for doc in found:
            print(f"  {doc.score:.3f}  {shorten(doc.content, 40):<40} {Path(doc.meta['file_path']).name}")
        assert Path(found[0].meta["file_path"]).name == "green_circle.png", "the image's twin should come first"
        print("\nOK")


if __name__ == "__main__":
    main()
