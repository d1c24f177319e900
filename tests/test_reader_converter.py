"""JinaReaderConverter against the emulator: every body is recorded and checked (method, path, field, headers)."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from haystack import Document, Pipeline
from haystack.dataclasses import ByteStream
from haystack.utils import Secret

from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaInputError
from haystack_integrations.common.jina.reader import READER_OPTIONS
from haystack_integrations.common.jina.reader_files import MAX_TEXT_BYTES
from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
from haystack_integrations.testing.jina import JinaEmulator, RecordedRequest
from haystack_integrations.testing.jina.documents import text_pdf

TYPE = "haystack_integrations.components.converters.jina.reader_converter.JinaReaderConverter"
HTML = (
    "<html><head><title>Tea guide</title></head><body><nav>Menu</nav><h1>Tea</h1><p>Green tea is steamed.</p>"
    "<h2>Black tea</h2><p>Black tea is oxidised.</p></body></html>"
)


def converter(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaReaderConverter:
    return JinaReaderConverter(api_key=api_key, base_url=emulator.reader_url, **kwargs)


def posted(emulator: JinaEmulator) -> list[RecordedRequest]:
    return [r for r in emulator.requests if r.method == "POST"]


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(text_pdf(["Quarterly report\nSales grew.", "Outlook\nMore growth."], title="Q3 report"))
    return path


# ---------------------------------------------------------------------------------------------- the wire
def test_a_pdf_is_posted_as_base64_with_dnt_and_converted_per_page(
    emulator: JinaEmulator, api_key: Secret, pdf: Path
) -> None:
    result = converter(emulator, api_key).run(sources=[pdf])
    (document,) = result["documents"]
    assert document.content == "Quarterly report\nSales grew.\n\nOutlook\nMore growth."
    assert document.meta == {"title": "Q3 report", "num_pages": 2, "file_path": "report.pdf"}
    (request,) = emulator.requests
    assert (request.method, request.path) == ("POST", "/r/")
    assert request.header("Content-Type") == "application/json"
    assert request.header("Accept") == "application/json"
    assert request.header("DNT") == "1"
    assert request.header("Authorization") == f"Bearer {emulator.api_key}"
    body = request.json
    assert set(body) == {"pdf"} and base64.b64decode(body["pdf"]) == pdf.read_bytes()  # no local path leaves
    assert result["meta"] == {"failed_sources": [], "usage": {"tokens": result["meta"]["usage"]["tokens"]}}
    assert result["meta"]["usage"]["tokens"] > 0


def test_html_is_posted_as_a_string_with_its_url_and_the_reader_options(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    stream = ByteStream(HTML.encode(), mime_type="text/html", meta={"url": "https://tea.example/guide", "lang": "en"})
    component = converter(emulator, api_key, remove_selector="h2", return_format="markdown", do_not_track=False)
    (document,) = component.run(sources=[stream], meta={"project": "tea"})["documents"]
    (request,) = emulator.requests
    assert request.json == {"url": "https://tea.example/guide", "html": HTML}
    assert request.header("X-Remove-Selector") == "h2" and request.header("X-Return-Format") == "markdown"
    assert request.header("DNT") is None
    assert document.content == "Menu\n\n# Tea\n\nGreen tea is steamed.\n\nBlack tea is oxidised."
    assert document.meta == {"title": "Tea guide", "url": "https://tea.example/guide", "lang": "en", "project": "tea"}


def test_text_and_json_are_posted_as_file(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Oolong sits between green and black.", encoding="utf-8")
    data = tmp_path / "data.json"
    data.write_text('{"tea": "oolong"}', encoding="utf-8")
    documents = converter(emulator, api_key, max_concurrency=1).run(sources=[notes, str(data)])["documents"]
    assert [doc.content for doc in documents] == ["Oolong sits between green and black.", '{"tea": "oolong"}']
    assert [doc.meta["file_path"] for doc in documents] == ["notes.txt", "data.json"]
    bodies = [r.json for r in posted(emulator)]
    assert [set(body) for body in bodies] == [{"file"}, {"file"}]
    assert base64.b64decode(bodies[0]["file"]) == notes.read_bytes()


def test_store_full_path(emulator: JinaEmulator, api_key: Secret, pdf: Path) -> None:
    stream = ByteStream(b"plain words", meta={"file_path": "/data/in/words.txt"})
    documents = converter(emulator, api_key, store_full_path=True).run(sources=[pdf, stream])["documents"]
    assert [doc.meta["file_path"] for doc in documents] == [str(pdf), "/data/in/words.txt"]
    documents = converter(emulator, api_key).run(sources=[pdf, stream])["documents"]
    assert [doc.meta["file_path"] for doc in documents] == ["report.pdf", "words.txt"]


# ---------------------------------------------------------------------------------------------- mixed batches
def test_a_mixed_batch_comes_back_in_order_with_the_failures_named(
    emulator: JinaEmulator, api_key: Secret, pdf: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.zip"
    archive.write_bytes(b"PK\x03\x04 not for the reader")
    missing = tmp_path / "missing.pdf"
    html = ByteStream(HTML.encode(), meta={"file_path": "tea.html"})
    sources: list[Any] = [pdf, html, archive, missing, pdf]
    result = converter(emulator, api_key, raise_on_failure=False).run(
        sources=sources, meta=[{"n": i} for i in range(5)]
    )
    assert [(doc.meta["file_path"], doc.meta["n"]) for doc in result["documents"]] == [
        ("report.pdf", 0),
        ("tea.html", 1),
        ("report.pdf", 4),
    ]
    failures = result["meta"]["failed_sources"]
    assert [(f["position"], f["source"], f["status"]) for f in failures] == [
        (2, str(archive), None),
        (3, str(missing), None),
    ]
    assert "application/zip, which the Jina Reader does not convert" in failures[0]["error"]
    assert failures[1]["error"] == f"JinaInputError: Source 3 ({missing}) cannot be read: no such file"
    assert [r.json.keys() for r in posted(emulator)].count({"pdf"}) == 2 and len(emulator.requests) == 3


def test_with_raise_on_failure_nothing_is_sent_while_a_source_is_bad(
    emulator: JinaEmulator, api_key: Secret, pdf: Path, tmp_path: Path
) -> None:
    with pytest.raises(JinaInputError, match=r"Source 1 \(.*missing\.pdf\) cannot be read: no such file"):
        converter(emulator, api_key).run(sources=[pdf, tmp_path / "missing.pdf"])
    with pytest.raises(JinaInputError, match=r"Source 0 \(ByteStream 0\) is of an unknown type"):
        converter(emulator, api_key).run(sources=[ByteStream(b"\x00\x01\x02binary")])
    with pytest.raises(JinaInputError, match="Source 0 must be a file path"):
        converter(emulator, api_key).run(sources=[42])  # type: ignore[list-item]
    assert emulator.requests == []


def test_sizes_over_the_readers_limit_are_refused_locally(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    big = tmp_path / "big.html"
    with big.open("wb") as file:  # sparse: no 32 MB written
        file.truncate(MAX_TEXT_BYTES + 1)
    with pytest.raises(
        JinaInputError, match=r"big\.html\) has 32,000,001 bytes, over the Jina Reader's limit of 32,000,000"
    ):
        converter(emulator, api_key).run(sources=[big])
    assert emulator.requests == []


def test_an_office_file_reaches_the_emulator_which_says_it_does_not_convert_it(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    docx = ByteStream(b"PK\x03\x04 a docx", meta={"file_path": "plan.docx"})
    result = converter(emulator, api_key, raise_on_failure=False).run(sources=[docx])
    (failure,) = result["meta"]["failed_sources"]
    assert failure["status"] == 422 and "does not convert Word, Excel or PowerPoint" in failure["error"]
    assert set(emulator.requests[0].json) == {"file"}
    with pytest.raises(JinaBadRequestError, match="does not convert"):
        converter(emulator, api_key).run(sources=[docx])


def test_converts_concurrently_bounded_by_max_concurrency(emulator: JinaEmulator, api_key: Secret, pdf: Path) -> None:
    emulator.latency = 0.2
    result = converter(emulator, api_key, max_concurrency=3).run(sources=[pdf] * 7, meta=[{"i": i} for i in range(7)])
    assert [doc.meta["i"] for doc in result["documents"]] == list(range(7))
    assert emulator.max_in_flight == 3


def test_empty_list_sends_nothing(emulator: JinaEmulator, api_key: Secret) -> None:
    assert converter(emulator, api_key).run(sources=[]) == {
        "documents": [],
        "meta": {"failed_sources": [], "usage": {"tokens": 0}},
    }
    assert emulator.requests == []


def test_meta_list_of_the_wrong_length(emulator: JinaEmulator, api_key: Secret, pdf: Path) -> None:
    with pytest.raises(ValueError, match="length"):
        converter(emulator, api_key).run(sources=[pdf], meta=[{}, {}])


# ---------------------------------------------------------------------------------------------- chunking
def test_heading_chunks_group_for_late_chunking(emulator: JinaEmulator, api_key: Secret) -> None:
    stream = ByteStream(HTML.encode(), mime_type="text/html", meta={"file_path": "tea.html"})
    documents = converter(emulator, api_key, markdown_chunking=True).run(sources=[stream, stream])["documents"]
    assert emulator.requests[0].header("X-Markdown-Chunking") == "true"
    assert [doc.content for doc in documents[:2]] == [
        "# Tea\n\nGreen tea is steamed.",
        "## Black tea\n\nBlack tea is oxidised.",
    ]
    assert [doc.meta["split_id"] for doc in documents] == [0, 1, 0, 1]
    assert len({doc.meta["source_id"] for doc in documents}) == 1  # the same file twice: the same source id
    whole = Document(
        content="# Tea\n\nGreen tea is steamed.\n\n## Black tea\n\nBlack tea is oxidised.",
        meta={"title": "Tea guide", "file_path": "tea.html"},
    )
    assert documents[0].meta["source_id"] == whole.id
    assert documents[1].meta["split_idx_start"] == whole.content.index("## Black")
    embedder = JinaDocumentEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, model="jina-embeddings-v3", late_chunking=True
    )
    embedded = embedder.run(documents[:2])["documents"]
    assert all(doc.embedding for doc in embedded)
    (request,) = emulator.requests_to("/v1/embeddings")
    assert request.json["late_chunking"] is True and len(request.json["input"]) == 2


# ---------------------------------------------------------------------------------------------- component contract
def test_serialization_round_trip(emulator: JinaEmulator, api_key: Secret, pdf: Path) -> None:
    original = converter(emulator, api_key, max_concurrency=2, do_not_track=False, markdown_chunking=True, locale="it")
    data = original.to_dict()
    assert data["type"] == TYPE
    assert data["init_parameters"]["api_key"] == {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True}
    assert set(data["init_parameters"]) >= {*READER_OPTIONS, "do_not_track", "markdown_chunking", "store_full_path"}
    pipeline = Pipeline()
    pipeline.add_component("convert", original)
    loaded = Pipeline.loads(pipeline.dumps()).get_component("convert")
    assert isinstance(loaded, JinaReaderConverter) and loaded.to_dict() == data
    assert loaded.run(sources=[pdf])["documents"][0].meta["num_pages"] == 2
    assert emulator.api_key not in json.dumps(data)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"return_format": "pdf"}, "return_format must be one of"),
        ({"do_not_track": "yes"}, "do_not_track must be True or False"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"base_url": "r.jina.ai"}, "base_url"),
    ],
)
def test_invalid_options(api_key: Secret, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JinaReaderConverter(api_key=api_key, **options)


def test_run_async(emulator: JinaEmulator, api_key: Secret, pdf: Path) -> None:
    import asyncio

    result = asyncio.run(converter(emulator, api_key).run_async(sources=[pdf]))
    assert result["documents"][0].meta["title"] == "Q3 report"


def test_hosted_url_is_moved_by_the_environment(
    emulator: JinaEmulator, api_key: Secret, pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JINA_READER_BASE_URL", emulator.reader_url)
    JinaReaderConverter(api_key=api_key).run(sources=[pdf])
    assert emulator.requests[0].path == "/r/"


def test_many_pdfs_at_once_with_pdf_images_beside_them(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    """PDFium is not thread-safe: the emulator's converter threads and the package's PDF-page renderer share one
    lock (`images.pdfium_lock`). Without it this run crashed the process ("double free or corruption")."""
    from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder

    paths = []
    for number in range(24):
        path = tmp_path / f"report-{number}.pdf"
        path.write_bytes(text_pdf([f"Report {number}\nPage one.", "Page two."], padding=200_000))
        paths.append(path)
    pages = [Document(content=None, meta={"file_path": str(path), "page_number": 1}) for path in paths[:8]]
    images = JinaDocumentImageEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, batch_size=1, max_concurrency=8, progress_bar=False
    )
    outcome: list[Any] = []
    renderer = threading.Thread(target=lambda: outcome.append(images.run(pages)))
    renderer.start()
    result = converter(emulator, api_key, max_concurrency=8).run(sources=paths)
    renderer.join(60)
    assert len(result["documents"]) == 24 and all(d.meta["num_pages"] == 2 for d in result["documents"])
    assert outcome and all(d.embedding for d in outcome[0]["documents"])
