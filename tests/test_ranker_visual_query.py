"""Visual queries: JinaRanker with jina-reranker-m0 ranks against an image (`RerankerM0Request.query`, 2026.06.29)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests
from haystack import Document, Pipeline
from haystack.dataclasses import ByteStream, ImageContent
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.common.jina import JinaInputError
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import JinaEmulator


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for colour in ("red", "blue"):
        Image.new("RGB", (64, 64), colour).save(tmp_path / f"{colour}.png")
    return tmp_path


def ranker(emulator: JinaEmulator, api_key: Secret, **kwargs: object) -> JinaRanker:
    return JinaRanker(api_key=api_key, base_url=emulator.rerank_url, model="jina-reranker-m0", **kwargs)  # type: ignore[arg-type]


def candidates(images: Path) -> list[Document]:
    return [
        Document(content="a field of blue flowers"),
        Document(content="a red fire truck"),
        Document(meta={"file_path": str(images / "blue.png")}),
        Document(meta={"file_path": str(images / "red.png")}),
    ]


def test_an_image_query_ranks_texts_and_images(images: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    documents = candidates(images)
    ranked = ranker(emulator, api_key).run("", documents, image_query=str(images / "red.png"))["documents"]
    assert ranked[0].meta.get("file_path", "").endswith("red.png")
    texts = [d.content for d in ranked if d.content]
    assert texts == ["a red fire truck", "a field of blue flowers"]
    (sent,) = [r.json for r in emulator.requests_to("/v1/rerank")]
    assert set(sent["query"]) == {"image"} and not sent["query"]["image"].startswith(("data:", "http"))


def test_image_queries_as_bytes_image_content_and_urls(images: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    documents = candidates(images)
    png = (images / "blue.png").read_bytes()
    component = ranker(emulator, api_key)
    by_bytes = component.run("", documents, image_query=ByteStream(data=png, mime_type="image/png"))["documents"]
    content = ImageContent(base64_image=base64.b64encode(png).decode(), mime_type="image/png")
    by_content = component.run("", documents, image_query=content)["documents"]
    assert by_bytes[0].meta["file_path"].endswith("blue.png") and [d.id for d in by_bytes] == [d.id for d in by_content]


def test_a_pipeline_connects_unchanged_and_takes_an_image_query(
    images: Path, emulator: JinaEmulator, api_key: Secret
) -> None:
    pipeline = Pipeline()
    pipeline.add_component("ranker", ranker(emulator, api_key))
    loaded = Pipeline.loads(pipeline.dumps())
    result = loaded.run(
        {"ranker": {"query": "", "documents": candidates(images), "image_query": str(images / "red.png")}}
    )
    assert result["ranker"]["documents"][0].meta["file_path"].endswith("red.png")
    assert "image_query" not in pipeline.dumps()  # nothing new is serialized
    text = loaded.run({"ranker": {"query": "fire truck", "documents": candidates(images)}})
    assert text["ranker"]["documents"][0].content == "a red fire truck"


def test_bad_image_queries_get_clear_errors(images: Path, emulator: JinaEmulator, api_key: Secret) -> None:
    documents = candidates(images)
    text_only = JinaRanker(api_key=api_key, base_url=emulator.rerank_url, model="jina-reranker-v3")
    with pytest.raises(
        ValueError, match=r"jina-reranker-v3 ranks against text queries only.*Rerankers that do: jina-reranker-m0"
    ):
        text_only.run("", documents, image_query=str(images / "red.png"))
    with pytest.raises(ValueError, match="both query='red' and an image_query"):
        ranker(emulator, api_key).run("red", documents, image_query=str(images / "red.png"))
    with pytest.raises(JinaInputError, match=r"image_query.*missing.png.*no such file"):
        ranker(emulator, api_key).run("", documents, image_query=str(images / "missing.png"))
    with pytest.raises(JinaInputError, match="it is not an image"):
        ranker(emulator, api_key).run("", documents, image_query=ByteStream(data=b"RIFF\x00\x00\x00\x00WAVEfmt "))
    with pytest.raises(TypeError, match="image_query as a path"):
        ranker(emulator, api_key).run("", documents, image_query=42)  # type: ignore[arg-type]
    assert not emulator.requests_to("/v1/rerank")


@pytest.mark.nonconforming  # an image query to a text reranker, on purpose
def test_the_emulator_refuses_image_queries_for_text_rerankers(emulator: JinaEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {"model": "jina-reranker-v3", "query": {"image": "QUJD"}, "documents": ["d"]}
    answer = requests.post(emulator.rerank_url, json=body, headers=headers, timeout=10)
    assert answer.status_code == 422 and "only jina-reranker-m0 takes an image query" in answer.json()["detail"]
