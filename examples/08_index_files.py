"""Index a folder of local files with the Jina Reader: PDF, HTML and text to Documents, embedded, queried.

    python examples/08_index_files.py

The example writes a small folder itself (a two-page PDF, a saved HTML page, a text file), converts it
with JinaReaderConverter (each file posted to the Reader, several at once, with `DNT: 1` so the files
stay out of the Reader's cache), embeds the Documents with JinaDocumentEmbedder, writes them to an
in-memory store and asks a question. A file the Reader does not take is reported, not indexed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _jina import jina, shorten
from haystack import Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore

from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.testing.jina.documents import text_pdf

HTML = """<html><head><title>Brewing green tea</title></head><body>
<nav><a href="/">Home</a></nav>
<h1>Brewing green tea</h1><p>Green tea is brewed at 70 to 80 degrees for two minutes; boiling water makes it bitter.</p>
</body></html>"""
QUESTION = "How hot should the water be for green tea?"


def write_folder(folder: Path) -> list[Path]:
    pdf = folder / "coffee-report.pdf"
    pdf.write_bytes(
        text_pdf(
            ["Coffee report\nArabica beans grow at high altitude.", "Roasting\nDark roasts taste smoky and bitter."],
            title="Coffee report",
        )
    )
    (folder / "green-tea.html").write_text(HTML, encoding="utf-8")
    (folder / "herbal.txt").write_text("Herbal teas such as chamomile contain no caffeine.", encoding="utf-8")
    (folder / "archive.zip").write_bytes(b"PK\x03\x04 an archive the Reader does not convert")
    return sorted(folder.iterdir())


def main() -> None:
    with jina() as api, tempfile.TemporaryDirectory() as tmp:
        files = write_folder(Path(tmp))
        store = InMemoryDocumentStore()
        indexing = Pipeline()
        indexing.add_component("convert", JinaReaderConverter(max_concurrency=4, raise_on_failure=False))
        indexing.add_component("embed", JinaDocumentEmbedder(**api.embedder_args()))
        indexing.add_component("write", DocumentWriter(document_store=store))
        indexing.connect("convert.documents", "embed.documents")
        indexing.connect("embed.documents", "write.documents")
        result = indexing.run(
            {"convert": {"sources": files, "meta": {"collection": "drinks"}}},
            include_outputs_from={"convert"},
        )
        converted = result["convert"]
        for document in converted["documents"]:
            pages = f", {document.meta['num_pages']} pages" if "num_pages" in document.meta else ""
            print(f"CONVERTED {document.meta['file_path']}: {document.meta['title']!r}{pages}")
            print(f"  | {shorten(document.content, 90)}")
        for failure in converted["meta"]["failed_sources"]:
            print(f"SKIPPED {Path(failure['source']).name}: {shorten(failure['error'], 90)}")
        print(
            f"indexed {result['write']['documents_written']} documents ({converted['meta']['usage']['tokens']} tokens)"
        )
        assert result["write"]["documents_written"] == 3, "the PDF, the HTML page and the text file"
        assert [Path(f["source"]).name for f in converted["meta"]["failed_sources"]] == ["archive.zip"]

        query = Pipeline()
        query.add_component("embed", JinaTextEmbedder(task="retrieval.query", **api.embedder_args()))
        query.add_component("retrieve", InMemoryEmbeddingRetriever(document_store=store, top_k=1))
        query.connect("embed.embedding", "retrieve.query_embedding")
        (best,) = query.run({"embed": {"text": QUESTION}})["retrieve"]["documents"]
        print(f"QUERY {QUESTION!r}\n  best: {best.meta['file_path']} -> {shorten(best.content, 80)}")
        assert best.meta["file_path"] == "green-tea.html", "the tea page answers the question"
        print("\nOK")


if __name__ == "__main__":
    main()
