"""Omni retrieval: text, images, an audio clip and a video in one index (jina-embeddings-v5-omni-small).

    python examples/14_omni_media.py

The example writes a small folder (two notes, two images, one WAV clip, one tiny MP4) into a temporary
directory, embeds every file and note with JinaDocumentMediaEmbedder into an InMemoryDocumentStore, then
searches it
- by text: JinaTextEmbedder with the same model (its text vectors are those of jina-embeddings-v5-text-small,
  so an existing v5-text index could be searched the same way);
- by image: JinaMediaEmbedder embeds a JPEG copy of one image, which must find its original first.

The clip and the video are generated here, tiny, with a title tag. The emulator derives their vectors from
their bytes and that tag; with --live the real model listens and watches (the generated MP4 holds no
frames, so the hosted API may refuse it: it is then listed as failed, and the example goes on).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _jina import jina, shorten
from haystack import Document
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from PIL import Image, ImageDraw

from haystack_integrations.components.embedders.jina import (
    JinaDocumentMediaEmbedder,
    JinaMediaEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.testing.jina.documents import mp4_clip, wav_clip

MODEL = "jina-embeddings-v5-omni-small"


def make_folder(folder: Path) -> list[Document]:
    """Write the files; one Document per file and per note."""
    red = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(red).rectangle((48, 48, 208, 208), fill="red")
    red.save(folder / "red_square.png")
    Image.new("RGB", (256, 256), "blue").save(folder / "blue_sky.png")
    (folder / "rain.wav").write_bytes(wav_clip("rain falling on a tin roof", seconds=0.5))
    (folder / "beach_dog.mp4").write_bytes(mp4_clip("a dog running on the beach"))
    notes = [
        Document(content="Minutes of the budget meeting: the travel budget grows by ten percent."),
        Document(content="Recipe: tomato soup with basil and a little cream."),
    ]
    files = [
        Document(meta={"file_path": name}) for name in ("red_square.png", "blue_sky.png", "rain.wav", "beach_dog.mp4")
    ]
    return notes + files


def label(document: Document) -> str:
    return document.meta.get("file_path") or shorten(document.content, 50)


def main() -> None:
    with jina() as api, tempfile.TemporaryDirectory(prefix="jina-omni-") as tmp:
        folder = Path(tmp)
        documents = make_folder(folder)
        embedder = JinaDocumentMediaEmbedder(
            model=MODEL, root_path=str(folder), progress_bar=False, raise_on_failure=False, **api.embedder_args()
        )
        result = embedder.run(documents)
        embedded = [doc for doc in result["documents"] if doc.embedding is not None]
        kinds = [doc.meta["embedding_source"]["type"] for doc in embedded]
        print(f"Embedded {len(embedded)} of {len(documents)} documents ({', '.join(kinds)})")
        print(f"Usage: {result['meta']['usage']}")
        for failed in result["meta"]["failed_documents"]:
            print(f"  failed: {failed['id'][:12]}: {shorten(failed['error'], 100)}")
        if api.emulated:
            assert len(embedded) == len(documents), result["meta"]["failed_documents"]

        store = InMemoryDocumentStore(embedding_similarity_function="cosine")
        store.write_documents(embedded)
        retriever = InMemoryEmbeddingRetriever(document_store=store, top_k=3)

        text_embedder = JinaTextEmbedder(model=MODEL, task="retrieval.query", **api.embedder_args())
        expected = {"rain on a tin roof": "rain.wav", "a dog on the beach": "beach_dog.mp4", "soup recipe": None}
        for query, first in expected.items():
            found = retriever.run(query_embedding=text_embedder.run(query)["embedding"])["documents"]
            print(f"\nText query: {query!r}")
            for doc in found:
                print(f"  {doc.score:.3f}  {label(doc)}")
            if api.emulated and first is not None:
                assert found[0].meta.get("file_path") == first, f"{first} should come first"

        # Image -> everything: a JPEG copy of the red square must find the original first.
        twin = folder / "query_red_square.jpg"
        Image.open(folder / "red_square.png").save(twin, quality=90)
        media_embedder = JinaMediaEmbedder(model=MODEL, **api.embedder_args())
        found = retriever.run(query_embedding=media_embedder.run(str(twin))["embedding"])["documents"]
        print(f"\nImage query: {twin.name} (a JPEG copy of red_square.png)")
        for doc in found:
            print(f"  {doc.score:.3f}  {label(doc)}")
        assert found[0].meta.get("file_path") == "red_square.png", "the image's twin should come first"
        print("\nOK")


if __name__ == "__main__":
    main()
