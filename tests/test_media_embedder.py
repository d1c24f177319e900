"""JinaDocumentMediaEmbedder and JinaMediaEmbedder: images, PDFs, audio and video with the v5-omni models."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from conformance import Recorder
from haystack import Document
from haystack.dataclasses import ByteStream, ImageContent
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.common.jina import JinaInputError
from haystack_integrations.common.jina.media import MAX_MEDIA_FILE_BYTES, sniff_kind
from haystack_integrations.components.embedders.jina import (
    JinaDocumentImageEmbedder,
    JinaDocumentMediaEmbedder,
    JinaMediaEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.documents import mp4_clip, text_pdf, wav_clip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    Image.new("RGB", (64, 48), "red").save(tmp_path / "red.png")
    (tmp_path / "report.pdf").write_bytes(text_pdf(["quarterly report"]))
    (tmp_path / "rain.wav").write_bytes(wav_clip("rain on a tin roof"))
    (tmp_path / "dog.mp4").write_bytes(mp4_clip("a dog running on the beach"))
    (tmp_path / "noext").write_bytes(wav_clip("no extension"))
    return tmp_path


def make(emulator: JinaEmulator, api_key: Secret, **kwargs: object) -> JinaDocumentMediaEmbedder:
    return JinaDocumentMediaEmbedder(
        api_key=api_key,
        base_url=emulator.embeddings_url,
        progress_bar=False,
        **kwargs,  # type: ignore[arg-type]
    )


def bodies(emulator: JinaEmulator) -> list[dict]:
    return [r.json for r in emulator.requests_to("/v1/embeddings")]


def test_a_mixed_folder_is_embedded_in_order_with_pdfs_alone(
    folder: Path, emulator: JinaEmulator, api_key: Secret
) -> None:
    documents = [
        Document(content="a photo", meta={"file_path": "red.png"}),
        Document(meta={"file_path": "report.pdf"}),
        Document(content="a clip", meta={"file_path": "rain.wav"}),
        Document(meta={"file_path": "dog.mp4"}),
        Document(content="just text about rain"),
        Document(meta={"file_path": "noext"}),  # known by its bytes
    ]
    result = make(emulator, api_key, root_path=str(folder), batch_size=8).run(documents)
    out = result["documents"]
    assert [d.id for d in out] == [d.id for d in documents] and all(len(d.embedding) == 1024 for d in out)
    kinds = [d.meta["embedding_source"]["type"] for d in out]
    assert kinds == ["image", "pdf", "audio", "video", "text", "audio"]
    sent = sorted(bodies(emulator), key=lambda body: isinstance(body["input"], dict))
    assert len(sent) == 2 and sent[1]["input"].keys() == {"pdf"}  # the PDF alone, not in a list
    assert [next(iter(i)) if isinstance(i, dict) else "str" for i in sent[0]["input"]] == [
        "image",
        "audio",
        "video",
        "str",
        "audio",
    ]
    assert sent[0]["task"] == "retrieval.passage" and sent[0]["model"] == "jina-embeddings-v5-omni-small"
    usage = result["meta"]["usage"]
    assert usage["image_tokens"] > 0 and usage["audio_tokens"] > 0 and usage["video_tokens"] > 0
    assert usage["total_tokens"] == sum(
        usage.get(k, 0) for k in ("prompt_tokens", "image_tokens", "audio_tokens", "video_tokens")
    )
    assert "embedding_source" not in documents[0].meta  # inputs untouched


def test_text_documents_get_the_v5_text_vectors(emulator: JinaEmulator, api_key: Secret) -> None:
    (embedded,) = make(emulator, api_key).run([Document(content="rain on a tin roof")])["documents"]
    text = JinaTextEmbedder(
        api_key=api_key,
        model="jina-embeddings-v5-text-small",
        task="retrieval.passage",
        base_url=emulator.embeddings_url,
    )
    assert embedded.embedding == text.run("rain on a tin roof")["embedding"]


def test_fuse_content_sends_one_group(folder: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    document = Document(content="storm sounds", meta={"file_path": str(folder / "rain.wav")})
    fused = make(emulator, api_key, fuse_content=True).run([document])["documents"][0]
    (item,) = bodies(emulator)[0]["input"]
    assert item["content"][0] == {"text": "storm sounds"} and set(item["content"][1]) == {"audio"}
    assert fused.meta["embedding_source"]["fused"] is True
    alone = make(emulator, api_key).run([document])["documents"][0]
    assert alone.embedding != fused.embedding


def test_urls_are_passed_through(emulator: JinaEmulator, api_key: Secret) -> None:
    document = Document(meta={"file_path": "https://example.invalid/talk.mp3"})
    result = make(emulator, api_key, raise_on_failure=False).run([document])  # the emulator cannot fetch it
    assert bodies(emulator)[0]["input"] == [{"audio": "https://example.invalid/talk.mp3"}]
    assert result["meta"]["failed_documents"][0]["id"] == document.id


def test_bad_input_names_the_document_and_file(folder: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    with (folder / "huge.mp4").open("wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_MEDIA_FILE_BYTES + 1)
    cases = {
        "missing.wav": "no such file",
        "empty.wav": "the file is empty",
        "notes.docx": "not supported; supported: image: jpg",
        "huge.mp4": "over the cap for audio, video and PDF (MAX_MEDIA_FILE_BYTES) of 25 MB; refused unread",
    }
    embedder = make(emulator, api_key, root_path=str(folder))
    for name, problem in cases.items():
        document = Document(meta={"file_path": name})
        with pytest.raises(JinaInputError, match=re.escape(problem)) as raised:
            embedder.run([document])
        assert document.id in str(raised.value) and name in str(raised.value)
    assert not bodies(emulator)  # refused before anything was sent
    nothing = Document(content="")
    with pytest.raises(JinaInputError, match=f"Document {nothing.id} has nothing to embed"):
        embedder.run([nothing])


def test_a_pdf_cannot_be_fused(folder: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    document = Document(content="the report", meta={"file_path": str(folder / "report.pdf")})
    with pytest.raises(JinaInputError, match=r"report.pdf.*it is a PDF, which cannot be fused"):
        make(emulator, api_key, fuse_content=True).run([document])


def test_models_that_cannot_take_the_media_name_those_that_can(
    folder: Path, emulator: JinaEmulator, api_key: Secret
) -> None:
    with pytest.raises(ValueError, match=r"does not take images \(models that do: .*jina-embeddings-v5-omni-small"):
        JinaDocumentMediaEmbedder(model="jina-embeddings-v5-text-small")
    image_model = make(emulator, api_key, model="jina-embeddings-v4", task=None)
    with pytest.raises(JinaInputError, match=r"rain.wav.*jina-embeddings-v4 does not take audio; models that do: "):
        image_model.run([Document(meta={"file_path": str(folder / "rain.wav")})])


def test_every_document_comes_back_when_some_fail(folder: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [
        Document(meta={"file_path": "rain.wav"}),
        Document(meta={"file_path": "missing.mp4"}),
        Document(content="text"),
    ]
    result = make(emulator, api_key, root_path=str(folder), raise_on_failure=False).run(documents)
    assert [d.embedding is not None for d in result["documents"]] == [True, False, True]
    assert [f["id"] for f in result["meta"]["failed_documents"]] == [documents[1].id]


def test_serialization_round_trip(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = make(emulator, api_key, fuse_content=True, dimensions=256)
    data = embedder.to_dict()
    assert data["init_parameters"]["fuse_content"] is True and data["init_parameters"]["api_key"]["type"] == "env_var"
    again = JinaDocumentMediaEmbedder.from_dict(data)
    assert again.fuse_content and again.dimensions == 256 and again.to_dict() == data


def test_media_queries_from_paths_bytes_and_image_content(
    folder: Path, emulator: JinaEmulator, api_key: Secret
) -> None:
    passages = make(emulator, api_key, root_path=str(folder)).run(
        [Document(meta={"file_path": "rain.wav"}), Document(meta={"file_path": "red.png"})]
    )["documents"]
    query = JinaMediaEmbedder(api_key=api_key, base_url=emulator.embeddings_url, task="retrieval.passage")
    assert query.run(str(folder / "rain.wav"))["embedding"] == passages[0].embedding
    assert query.run(ByteStream(data=(folder / "rain.wav").read_bytes()))["embedding"] == passages[0].embedding
    png = base64.b64encode((folder / "red.png").read_bytes()).decode()
    result = query.run(ImageContent(base64_image=png, mime_type="image/png"))
    assert result["embedding"] == passages[1].embedding and result["meta"]["usage"]["image_tokens"] > 0
    assert query.to_dict() == JinaMediaEmbedder.from_dict(query.to_dict()).to_dict()


def test_media_query_errors(folder: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    query = JinaMediaEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    with pytest.raises(TypeError, match="use JinaTextEmbedder"):
        query.run(42)  # type: ignore[arg-type]
    with pytest.raises(JinaInputError, match=r"media input \(path 'ByteStream'\): the ByteStream is empty"):
        query.run(ByteStream(data=b"", mime_type="audio/wav"))
    with pytest.raises(JinaInputError, match=r"no such file"):
        query.run(str(folder / "missing.wav"))
    v4 = JinaMediaEmbedder(api_key=api_key, base_url=emulator.embeddings_url, model="jina-embeddings-v4")
    with pytest.raises(
        JinaInputError, match="jina-embeddings-v4 does not take video; models that do: jina-embeddings-v5"
    ):
        v4.run(str(folder / "dog.mp4"))


def test_the_image_embedder_takes_the_omni_models(folder: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = JinaDocumentImageEmbedder(
        api_key=api_key, model="jina-embeddings-v5-omni-nano", base_url=emulator.embeddings_url, progress_bar=False
    )
    documents = [
        Document(meta={"file_path": str(folder / "red.png")}),
        Document(meta={"file_path": str(folder / "report.pdf"), "page_number": 1}),
    ]
    out = embedder.run(documents)["documents"]
    assert [len(d.embedding) for d in out] == [768, 768]


def test_file_kinds_from_their_first_bytes() -> None:
    image = io.BytesIO()
    Image.new("RGB", (2, 2)).save(image, "PNG")
    assert sniff_kind(image.getvalue()[:16]) == "image"
    assert sniff_kind(wav_clip()[:16]) == "audio"
    assert sniff_kind(mp4_clip()[:16]) == "video"
    assert sniff_kind(text_pdf(["x"])[:16]) == "pdf"
    assert sniff_kind(b"\x1a\x45\xdf\xa3" + b"\x00" * 12) == "video"
    assert sniff_kind(b"hello world12345") is None


def test_every_request_kind_conforms_to_the_2026_06_29_schemas(
    folder: Path, emulator: JinaEmulator, api_key: Secret, spec_conformance: Recorder
) -> None:
    documents = [
        Document(content="a photo", meta={"file_path": "red.png"}),
        Document(meta={"file_path": "report.pdf"}),
        Document(meta={"file_path": "rain.wav"}),
        Document(meta={"file_path": "dog.mp4"}),
        Document(content="text only"),
    ]
    make(emulator, api_key, root_path=str(folder)).run(documents)
    make(emulator, api_key, root_path=str(folder), fuse_content=True, model="jina-embeddings-v5-omni-nano").run(
        [
            Document(content=f"about {d.meta['file_path']}", meta=d.meta)
            for d in (documents[0], documents[2], documents[3])
        ]
    )
    JinaMediaEmbedder(api_key=api_key, base_url=emulator.embeddings_url).run(str(folder / "dog.mp4"))
    kinds: set[str] = set()
    for request in spec_conformance.requests:
        inputs = request.json["input"]
        for item in inputs if isinstance(inputs, list) else [inputs]:
            kinds.add("str" if isinstance(item, str) else "+".join(sorted(item)))
            if isinstance(item, dict) and "content" in item:
                kinds.update(f"content:{next(iter(chunk))}" for chunk in item["content"])
    assert kinds == {"str", "image", "pdf", "audio", "video", "content", "content:text"} | {
        "content:image",
        "content:audio",
        "content:video",
    }
    assert not spec_conformance.problems()
