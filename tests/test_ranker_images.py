"""JinaRanker with image Documents (jina-reranker-m0) against the emulator over real HTTP."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from haystack import Document, Pipeline
from haystack.utils import Secret
from page_server import PageServer
from PIL import Image, ImageDraw

from haystack_integrations.common.jina import batches
from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.rankers.jina.image_documents import request_chunks
from haystack_integrations.testing.jina import JinaEmulator

M0 = "jina-reranker-m0"
COLOURS = ("green", "red", "blue", "yellow", "purple")


def square(colour: str, size: tuple[int, int] = (300, 200)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    width, height = size
    ImageDraw.Draw(image).rectangle((width // 6, height // 6, width * 5 // 6, height * 5 // 6), fill=colour)
    return image


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for colour in COLOURS:
        square(colour).save(tmp_path / f"{colour}.png")
    pages = [Image.new("RGB", (420, 595), "white"), Image.new("RGB", (420, 595), "white")]
    ImageDraw.Draw(pages[0]).rectangle((0, 0, 420, 200), fill="navy")
    ImageDraw.Draw(pages[1]).rectangle((60, 200, 360, 500), fill="teal")
    pages[0].save(tmp_path / "report.pdf", save_all=True, append_images=pages[1:])
    return tmp_path


def make(emulator: JinaEmulator, api_key: Secret, **kwargs: Any) -> JinaRanker:
    kwargs.setdefault("model", M0)
    return JinaRanker(api_key=api_key, base_url=emulator.rerank_url, **kwargs)


def image_doc(name: str, **meta: Any) -> Document:
    return Document(meta={"file_path": name, **meta})


def bodies(emulator: JinaEmulator) -> list[dict[str, Any]]:
    return [request.json for request in emulator.requests_to("/v1/rerank")]


def emulator_score(emulator: JinaEmulator, query: str, item: Any) -> float:
    """What the emulator scores one sent document alone (m0 is pointwise): the ranker must report the same."""
    body = {"model": M0, "query": query, "documents": [item], "return_documents": False}
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    response = requests.post(emulator.rerank_url, json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return float(response.json()["results"][0]["relevance_score"])


# ---------------------------------------------------------------- construction and serialization


def test_image_options_are_serialized_only_when_set(api_key: Secret) -> None:
    plain = JinaRanker(M0, api_key).to_dict()["init_parameters"]
    assert not {"file_path_meta_field", "root_path", "image_size"} & set(plain)
    defaults = JinaRanker(M0, api_key, file_path_meta_field="file_path", root_path=None, image_size=None)
    assert defaults.to_dict()["init_parameters"] == plain

    ranker = JinaRanker(M0, api_key, file_path_meta_field="image", root_path="/data", image_size=(512, 384))
    data = ranker.to_dict()
    assert {k: data["init_parameters"][k] for k in ("file_path_meta_field", "root_path", "image_size")} == {
        "file_path_meta_field": "image",
        "root_path": "/data",
        "image_size": (512, 384),
    }
    as_yaml = yaml.safe_dump({**data, "init_parameters": {**data["init_parameters"], "image_size": [512, 384]}})
    restored = JinaRanker.from_dict(yaml.safe_load(as_yaml))  # YAML gives the pair back as a list
    assert restored.image_size == (512, 384)
    assert restored.to_dict() == data


@pytest.mark.parametrize(
    "option",
    [{"file_path_meta_field": "image_path"}, {"root_path": "/data"}, {"image_size": (64, 64)}],
)
@pytest.mark.parametrize("model", ["jina-reranker-v2-base-multilingual", "jina-reranker-v3", "jina-colbert-v2"])
def test_image_options_are_refused_with_text_rerankers(api_key: Secret, model: str, option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=rf"{model} ranks text only.*{next(iter(option))}=.*jina-reranker-m0"):
        JinaRanker(model, api_key, **option)


def test_image_options_pass_with_an_unknown_model(api_key: Secret) -> None:
    assert JinaRanker("jina-reranker-m1", api_key, image_size=(64, 64)).image_size == (64, 64)


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ({"image_size": (0, 10)}, "image_size must be None or a"),
        ({"image_size": 512}, "image_size must be None or a"),
        ({"file_path_meta_field": ""}, "file_path_meta_field must be a non-empty string"),
        ({"root_path": 3}, "root_path must be None or a string"),
    ],
)
def test_invalid_image_options(api_key: Secret, option: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        JinaRanker(M0, api_key, **option)


# ---------------------------------------------------------------- ranking images


def test_m0_ranks_images_sent_as_plain_base64_in_the_emulators_score_order(
    emulator: JinaEmulator, api_key: Secret, folder: Path
) -> None:
    documents = [image_doc(f"{colour}.png", colour=colour) for colour in COLOURS]
    result = make(emulator, api_key, root_path=str(folder), image_size=(120, 120)).run("a red square", documents)

    [body] = bodies(emulator)
    assert body["return_documents"] is False
    for item in body["documents"]:
        assert set(item) == {"image"} and not item["image"].startswith("data:")
        image = Image.open(io.BytesIO(base64.b64decode(item["image"], validate=True)))
        assert image.size == (120, 80)  # 300x200 shrunk into the 120x120 box
    ranked = result["documents"]
    assert ranked[0].meta["colour"] == "red"
    assert len(ranked) == len(documents)
    # each score is what the emulator gives that image, and the order is the scores' order
    position = {d.id: p for p, d in enumerate(documents)}
    for document in ranked:
        sent = body["documents"][position[document.id]]
        assert document.score == emulator_score(emulator, "a red square", sent)
    assert [d.score for d in ranked] == sorted((d.score for d in ranked), reverse=True)
    assert all(d.content is None and d.score is None for d in documents)  # inputs untouched
    assert result["meta"]["usage"]["total_tokens"] > 0


def test_text_and_image_documents_mix_in_one_call(emulator: JinaEmulator, api_key: Secret, folder: Path) -> None:
    documents = [
        Document(content="A red transformer toy"),
        image_doc(str(folder / "red.png")),
        Document(content="   ", meta={"file_path": str(folder / "blue.png")}),  # whitespace is no text
        Document(content="Page text from a converter", meta={"file_path": str(folder / "report.pdf")}),  # has text
        Document(content="Cheese"),
    ]
    ranked = make(emulator, api_key, meta_fields_to_embed=["title"]).run("red", documents)["documents"]
    [body] = bodies(emulator)
    kinds = ["image" if isinstance(item, dict) else item for item in body["documents"]]
    assert kinds == ["A red transformer toy", "image", "image", "Page text from a converter", "Cheese"]
    assert {d.id for d in ranked} == {d.id for d in documents}
    red = next(d for d in ranked if d.id == documents[1].id)
    blue = next(d for d in ranked if d.id == documents[2].id)
    assert red.score > blue.score


def test_pdf_pages_are_rendered_and_ranked(emulator: JinaEmulator, api_key: Secret, folder: Path) -> None:
    documents = [image_doc("report.pdf", page_number=page) for page in (1, 2)]
    ranked = make(emulator, api_key, root_path=str(folder), image_size=(200, 200)).run("teal chart", documents)
    assert [d.meta["page_number"] for d in ranked["documents"]] == [2, 1]
    sizes = [Image.open(io.BytesIO(base64.b64decode(i["image"]))).size for i in bodies(emulator)[0]["documents"]]
    assert sizes == [(141, 200), (141, 200)]  # A4-shaped pages rendered into the box


def test_text_rerankers_still_rank_such_documents_as_empty_text(
    emulator: JinaEmulator, api_key: Secret, folder: Path
) -> None:
    documents = [image_doc(str(folder / "red.png")), Document(content="red")]
    make(emulator, api_key, model="jina-reranker-v2-base-multilingual").run("red", documents)
    assert bodies(emulator)[0]["documents"] == ["", "red"]


def test_top_k_and_threshold_apply_to_images(emulator: JinaEmulator, api_key: Secret, folder: Path) -> None:
    documents = [image_doc(f"{colour}.png") for colour in COLOURS]
    ranker = make(emulator, api_key, root_path=str(folder), top_k=2)
    every = make(emulator, api_key, root_path=str(folder)).run("purple", documents)["documents"]
    top = ranker.run("purple", documents)["documents"]
    assert [d.id for d in top] == [d.id for d in every[:2]]
    assert bodies(emulator)[1]["top_n"] == 2
    assert every[0].score > every[1].score
    kept = ranker.run("purple", documents, top_k=5, score_threshold=every[0].score)["documents"]
    assert [d.id for d in kept] == [every[0].id]


def test_many_images_are_split_into_requests_and_prepared_per_request(
    emulator: JinaEmulator, api_key: Secret, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = [image_doc(f"{colour}.png") for colour in COLOURS] + [Document(content=f"red {i}") for i in range(3)]
    documents += [image_doc(f"{colour}.png") for colour in COLOURS]
    whole = make(emulator, api_key, root_path=str(folder), max_concurrency=1).run("red", documents, top_k=4)
    emulator.reset()

    prepared: list[tuple[int, int]] = []  # (images prepared, requests the emulator had received by then)
    original = batches.images_in_flight  # where every request's images are prepared

    def recording(sources: Any, image_size: Any) -> Any:
        prepared.append((len(sources), len(emulator.requests_to("/v1/rerank"))))
        return original(sources, image_size)

    monkeypatch.setattr(batches, "images_in_flight", recording)
    ranker = make(emulator, api_key, root_path=str(folder), max_concurrency=1)
    monkeypatch.setattr(ranker, "max_images_per_request", 3)
    split = ranker.run("red", documents, top_k=4)

    sent = bodies(emulator)
    assert [sum(isinstance(item, dict) for item in body["documents"]) for body in sent] == [3, 3, 3, 1]
    assert [len(body["documents"]) for body in sent] == [3, 6, 3, 1]
    # one request at a time: each request's images are prepared only after the previous request was sent
    assert prepared == [(3, 0), (3, 1), (3, 2), (1, 3)]
    assert [(d.id, d.score) for d in split["documents"]] == [(d.id, d.score) for d in whole["documents"]]


def test_request_chunks_bound_documents_and_images() -> None:
    assert request_chunks(7, {0, 1, 2, 5}, 4, 2) == [range(0, 2), range(2, 6), range(6, 7)]
    assert request_chunks(5, set(), 2, 1) == [range(0, 2), range(2, 4), range(4, 5)]
    assert request_chunks(0, set(), 2, 1) == []


async def test_run_async_ranks_images_like_run(emulator: JinaEmulator, api_key: Secret, folder: Path) -> None:
    documents = [image_doc(f"{colour}.png") for colour in COLOURS]
    ranker = make(emulator, api_key, root_path=str(folder), image_size=(64, 64))
    assert await ranker.run_async("yellow", documents) == ranker.run("yellow", documents)


# ---------------------------------------------------------------- URLs and bad images


def test_a_url_is_sent_as_the_url_and_a_pdf_url_is_refused(
    emulator: JinaEmulator, api_key: Secret, folder: Path, pages: PageServer
) -> None:
    url = pages.add("/red.png", (folder / "red.png").read_bytes(), content_type="image/png")
    documents = [image_doc(url), image_doc(str(folder / "blue.png"))]
    ranked = make(emulator, api_key).run("red", documents)["documents"]
    assert bodies(emulator)[0]["documents"][0] == {"image": url}
    assert ranked[0].meta["file_path"] == url
    assert [path for path, _ in pages.requests] == ["/red.png"]  # fetched by the emulator, not by the ranker

    emulator.reset()
    pdf = Document(id="remote-pdf", meta={"file_path": pages.url + "/report.pdf"})
    with pytest.raises(JinaInputError, match=r"document remote-pdf .*report\.pdf.*a PDF.*images only"):
        make(emulator, api_key).run("red", [*documents, pdf])
    assert bodies(emulator) == []


@pytest.mark.parametrize(
    ("meta", "problem"),
    [
        ({"file_path": "missing.png"}, "no such file"),
        ({"file_path": "../outside.png"}, "escapes root_path"),
        ({"file_path": "report.pdf"}, "no 'page_number'"),
        ({"file_path": "notes.txt"}, "unsupported file type"),
    ],
)
def test_unusable_images_fail_before_any_request_naming_the_document(
    emulator: JinaEmulator, api_key: Secret, folder: Path, meta: dict[str, Any], problem: str
) -> None:
    (folder / "notes.txt").write_text("not an image")
    documents = [image_doc("red.png"), Document(id="bad-doc", meta=meta)]
    with pytest.raises(JinaInputError, match=rf"document bad-doc .*{problem}"):
        make(emulator, api_key, root_path=str(folder)).run("red", documents)
    assert bodies(emulator) == []


def test_a_corrupt_image_raises_naming_the_document(emulator: JinaEmulator, api_key: Secret, folder: Path) -> None:
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    documents = [image_doc("red.png"), Document(id="broken-doc", meta={"file_path": "broken.png"})]
    with pytest.raises(JinaInputError, match=r"document broken-doc .*broken\.png"):
        make(emulator, api_key, root_path=str(folder)).run("red", documents)
    assert bodies(emulator) == []  # its request was never sent


def test_pipeline_yaml_round_trip_keeps_the_image_options(api_key: Secret, folder: Path) -> None:
    pipeline = Pipeline()
    pipeline.add_component("ranker", JinaRanker(M0, api_key, root_path=str(folder), image_size=(64, 48)))
    loaded = Pipeline.loads(pipeline.dumps())
    ranker = loaded.get_component("ranker")
    assert isinstance(ranker, JinaRanker)
    assert (ranker.root_path, ranker.image_size, ranker.file_path_meta_field) == (str(folder), (64, 48), "file_path")
    assert loaded.dumps() == pipeline.dumps()
