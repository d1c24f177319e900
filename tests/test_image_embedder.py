"""JinaDocumentImageEmbedder against the emulator: wire format, results, errors, serialization."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import math
from pathlib import Path

import pytest
import yaml
from haystack import Document, Pipeline
from haystack.utils import Secret
from PIL import Image, ImageDraw

from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder, JinaTextEmbedder
from haystack_integrations.testing.jina import JinaEmulator, RecordedRequest

TYPE = "haystack_integrations.components.embedders.jina.document_image_embedder.JinaDocumentImageEmbedder"
SOURCE = {"type": "image", "file_path_meta_field": "file_path"}


def make(emulator: JinaEmulator, api_key: Secret, **kwargs: object) -> JinaDocumentImageEmbedder:
    kwargs.setdefault("progress_bar", False)
    return JinaDocumentImageEmbedder(api_key=api_key, base_url=emulator.embeddings_url, **kwargs)  # type: ignore[arg-type]


def photo(size: tuple[int, int] = (320, 240), seed: int = 0) -> Image.Image:
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.new("L", size, (seed * 53) % 256),
        ),
    )
    width, height = size
    x, y = (seed * 97) % width, (seed * 61) % height
    ImageDraw.Draw(image).ellipse(
        (x - width // 5, y - height // 5, x + width // 5, y + height // 5), fill=(250, 20, 90)
    )
    return image


def write_images(folder: Path, count: int, size: tuple[int, int] = (320, 240), fmt: str = "JPEG") -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"img{i}.{fmt.lower()}"
        photo(size, seed=i).save(path, fmt)
        paths.append(path)
    return paths


def image_docs(paths: list[Path]) -> list[Document]:
    return [Document(content=f"picture {i}", meta={"file_path": str(path)}) for i, path in enumerate(paths)]


def decoded_inputs(request: RecordedRequest) -> list[Image.Image]:
    images = []
    for item in request.json["input"]:
        assert set(item) == {"image"}
        assert not item["image"].startswith("data:")  # plain base64, as Jina's ImageDoc takes it
        image = Image.open(io.BytesIO(base64.b64decode(item["image"], validate=True)))
        assert image.format in ("JPEG", "PNG")
        images.append(image)
    return images


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


# ------------------------------------------------------------------ serialization


def test_to_dict_defaults_match_the_published_shape(api_key: Secret) -> None:
    data = JinaDocumentImageEmbedder(api_key=api_key).to_dict()
    assert data["type"] == TYPE
    published = {
        "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": True},
        "model": "jina-clip-v2",
        "base_url": "https://api.jina.ai/v1/embeddings",
        "file_path_meta_field": "file_path",
        "root_path": "",
        "embedding_dimension": None,
        "image_size": None,
        "batch_size": 5,
    }
    assert data["init_parameters"] == published  # added parameters are written only when set


def test_parameters_are_keyword_only(api_key: Secret) -> None:
    with pytest.raises(TypeError):
        JinaDocumentImageEmbedder(api_key, "jina-clip-v2")  # type: ignore[misc]


def test_from_dict_of_a_published_yaml(api_key: Secret) -> None:
    yaml_text = f"""
type: {TYPE}
init_parameters:
  api_key: {{type: env_var, env_vars: [JINA_API_KEY], strict: true}}
  model: jina-embeddings-v4
  base_url: https://api.jina.ai/v1/embeddings
  file_path_meta_field: image_path
  root_path: /data/images
  embedding_dimension: 256
  image_size: [512, 384]
  batch_size: 10
"""
    embedder = JinaDocumentImageEmbedder.from_dict(yaml.safe_load(yaml_text))
    assert embedder.model_name == "jina-embeddings-v4"
    assert embedder.file_path_meta_field == "image_path"
    assert embedder.root_path == "/data/images"
    assert embedder.embedding_dimension == 256
    assert embedder.image_size == (512, 384)
    assert embedder.batch_size == 10


def test_pipeline_yaml_round_trip_keeps_image_size_a_tuple(api_key: Secret) -> None:
    pipeline = Pipeline()
    pipeline.add_component(
        "embedder",
        JinaDocumentImageEmbedder(
            api_key=api_key,
            model="jina-embeddings-v4",
            root_path="/srv/img",
            embedding_dimension=128,
            image_size=(640, 480),
            task="retrieval.passage",
            batch_size=3,
            max_concurrency=2,
            raise_on_failure=False,
        ),
    )
    text = pipeline.dumps()
    assert "jina_emulator_key" not in text
    loaded = Pipeline.loads(text).get_component("embedder")
    assert isinstance(loaded, JinaDocumentImageEmbedder)
    assert loaded.image_size == (640, 480)
    assert isinstance(loaded.image_size, tuple)
    assert loaded.to_dict() == pipeline.get_component("embedder").to_dict()


def test_json_style_list_image_size_becomes_a_tuple(api_key: Secret) -> None:
    data = JinaDocumentImageEmbedder(api_key=api_key, image_size=(100, 50)).to_dict()
    data["init_parameters"]["image_size"] = [100, 50]
    assert JinaDocumentImageEmbedder.from_dict(data).image_size == (100, 50)


def test_invalid_parameters(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="image_size"):
        JinaDocumentImageEmbedder(api_key=api_key, image_size=(0, 100))
    with pytest.raises(ValueError, match="batch_size"):
        JinaDocumentImageEmbedder(api_key=api_key, batch_size=0)


def test_token_secret_refuses_to_serialize_and_key_never_shows(emulator: JinaEmulator, tmp_path: Path) -> None:
    key = emulator.api_key
    assert key is not None
    embedder = make(emulator, Secret.from_token(key))
    with pytest.raises(ValueError, match=r"(?i)token"):
        embedder.to_dict()
    assert key not in repr(embedder) and key not in repr(embedder._client)
    with pytest.raises(JinaInputError) as error:
        embedder.run([Document(meta={"file_path": str(tmp_path / "missing.png")})])
    assert key not in str(error.value)


# ------------------------------------------------------------------ the wire and the results


def test_run_sends_data_uris_in_batches_and_keeps_order(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    paths = write_images(tmp_path, 7, size=(400, 300))
    documents = image_docs(paths)
    before = copy.deepcopy(documents)
    result = make(emulator, api_key, batch_size=3, image_size=(100, 100), embedding_dimension=64).run(documents)

    sent = emulator.requests_to("/v1/embeddings")
    assert sorted(len(r.json["input"]) for r in sent) == [1, 3, 3]  # concurrent: any arrival order
    for request in sent:
        assert request.json["model"] == "jina-clip-v2"
        assert request.json["dimensions"] == 64
        assert "task" not in request.json
        assert all(image.size == (100, 75) for image in decoded_inputs(request))

    out = result["documents"]
    assert [d.id for d in out] == [d.id for d in documents]
    assert all(len(d.embedding) == 64 for d in out)
    assert all(d.meta == {**orig.meta, "embedding_source": SOURCE} for d, orig in zip(out, documents, strict=True))
    assert documents == before, "inputs are not mutated"
    assert out[0].meta["embedding_source"] is not out[1].meta["embedding_source"]
    assert result["meta"]["model"] == "jina-clip-v2"
    assert result["meta"]["usage"]["total_tokens"] == 7000
    assert result["meta"].keys() == {"model", "usage"}  # failures raise: no list of them

    # the order is right: each vector is the one of its own image
    single = make(emulator, api_key, image_size=(100, 100), embedding_dimension=64).run(image_docs([paths[5]]))
    assert single["documents"][0].embedding == out[5].embedding


def test_same_image_twice_same_vector_similar_close_different_far(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    image = photo((800, 600), seed=2)
    image.save(tmp_path / "a.jpg", quality=90)
    image.save(tmp_path / "a.png")
    image.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "pdf.pdf", resolution=100)  # a scanned page
    photo((800, 600), seed=9).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(tmp_path / "other.jpg")
    documents = [
        Document(meta={"file_path": "a.jpg"}),
        Document(meta={"file_path": "a.jpg"}),
        Document(meta={"file_path": "a.png"}),
        Document(meta={"file_path": "other.jpg"}),
    ]
    out = make(emulator, api_key, root_path=str(tmp_path), image_size=(256, 256)).run(documents)["documents"]
    a, again, png, other = (d.embedding for d in out)
    assert a == again
    assert cosine(a, png) > 0.95
    assert cosine(a, other) < cosine(a, png) - 0.3


def test_pdf_pages_are_embedded(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    pages = [Image.new("RGB", (200, 100), colour) for colour in ((255, 0, 0), (0, 0, 255), (255, 0, 0))]
    pages[0].save(tmp_path / "doc.pdf", resolution=72, save_all=True, append_images=pages[1:])
    documents = [Document(content=f"page {n}", meta={"file_path": "doc.pdf", "page_number": n}) for n in (1, 2, 3)]
    result = make(emulator, api_key, root_path=str(tmp_path), image_size=(64, 64)).run(documents)
    first, second, third = (d.embedding for d in result["documents"])
    assert first == third
    assert cosine(first, second) < 0.9
    images = decoded_inputs(emulator.requests_to("/v1/embeddings")[0])
    assert [image.size for image in images] == [(64, 32)] * 3


def test_every_format_in_one_run(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    base = photo((300, 200), seed=5)
    names = []
    for fmt, name in [("JPEG", "x.jpg"), ("PNG", "x.png"), ("WEBP", "x.webp"), ("BMP", "x.bmp"), ("TIFF", "x.tif")]:
        base.save(tmp_path / name, fmt)
        names.append(name)
    base.convert("P").save(tmp_path / "x.gif")
    base.convert("CMYK").save(tmp_path / "cmyk.jpg")
    names += ["x.gif", "cmyk.jpg"]
    documents = [Document(meta={"file_path": name}) for name in names]
    result = make(emulator, api_key, root_path=str(tmp_path), batch_size=10).run(documents)
    vectors = [d.embedding for d in result["documents"]]
    assert all(cosine(vectors[0], v) > 0.9 for v in vectors[1:])


def test_exif_rotated_photo_is_sent_upright(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8  # displayed rotated 90 degrees counter-clockwise
    photo((400, 200)).save(tmp_path / "r.jpg", exif=exif.tobytes())
    make(emulator, api_key, root_path=str(tmp_path)).run([Document(meta={"file_path": "r.jpg"})])
    (image,) = decoded_inputs(emulator.requests_to("/v1/embeddings")[0])
    assert image.size == (200, 400)


def test_task_and_model_for_jina_embeddings_v4(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    documents = image_docs(write_images(tmp_path, 2))
    result = make(emulator, api_key, model="jina-embeddings-v4", task="retrieval.passage").run(documents)
    (request,) = emulator.requests_to("/v1/embeddings")
    assert request.json["task"] == "retrieval.passage"
    assert request.json["model"] == "jina-embeddings-v4"
    assert len(result["documents"][0].embedding) == 2048


def test_a_task_the_model_lacks_fails_at_construction(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    documents = image_docs(write_images(tmp_path, 1))
    with pytest.raises(ValueError, match=r"jina-clip-v2 has no task 'retrieval\.passage'.*task \(retrieval\.query\)"):
        make(emulator, api_key, task="retrieval.passage")
    result = make(emulator, api_key, task="retrieval.query").run(documents)
    assert result["documents"][0].embedding is not None


def test_image_and_text_vectors_share_the_request_format(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    documents = image_docs(write_images(tmp_path, 1))
    image_vector = make(emulator, api_key).run(documents)["documents"][0].embedding
    text_vector = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, model="jina-clip-v2").run(
        "a photo"
    )["embedding"]
    assert len(image_vector) == len(text_vector) == 1024


@pytest.mark.parametrize("model", ["jina-clip-v1", "jina-clip-v2", "jina-embeddings-v4"])
def test_text_finds_the_image_whose_colours_it_names(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path, model: str
) -> None:
    """Multimodal models put text and images in one space: the emulator matches them on colour words."""
    for colour in ("red", "green", "navy"):
        canvas = Image.new("RGB", (200, 200), "white")
        ImageDraw.Draw(canvas).rectangle((40, 40, 160, 160), fill=colour)
        canvas.save(tmp_path / f"{colour}.png")
    documents = [Document(meta={"file_path": f"{colour}.png"}) for colour in ("red", "green", "navy")]
    images = make(emulator, api_key, model=model, root_path=str(tmp_path)).run(documents)["documents"]
    text = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, model=model)
    for query, expected in [
        ("a red square", "red.png"),
        ("something green", "green.png"),
        ("navy", "navy.png"),
        ("yellow", None),
    ]:
        vector = text.run(query)["embedding"]
        scores = {d.meta["file_path"]: cosine(vector, d.embedding or []) for d in images}
        best = max(scores, key=scores.__getitem__)
        if expected is None:  # a colour no image shows: nothing stands out
            assert max(scores.values()) - min(scores.values()) < 0.1, scores
        else:
            assert best == expected, scores
            assert scores[best] > max(s for name, s in scores.items() if name != best) + 0.1, scores


def test_text_models_do_not_share_the_image_space(emulator: JinaEmulator, api_key: Secret) -> None:
    """Colour words mean nothing special to a text-only model: same vector with or without the concept."""
    v3 = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    clip = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url, model="jina-clip-v2")
    assert cosine(clip.run("a red car")["embedding"], clip.run("red")["embedding"]) > cosine(
        v3.run("a red car")["embedding"], v3.run("red")["embedding"]
    )


def test_empty_input_and_wrong_types(emulator: JinaEmulator, api_key: Secret) -> None:
    embedder = make(emulator, api_key)
    assert embedder.run([]) == {
        "documents": [],
        "meta": {"model": "jina-clip-v2", "usage": {}},
    }
    assert emulator.requests_to("/v1/embeddings") == []
    with pytest.raises(TypeError, match="JinaTextEmbedder"):
        embedder.run("cat.jpg")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"item 0 is a str"):
        embedder.run(["cat.jpg"])  # type: ignore[list-item]


async def test_run_async(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    documents = image_docs(write_images(tmp_path, 4))
    embedder = make(emulator, api_key, batch_size=2)
    sync_result = embedder.run(documents)
    results = await asyncio.gather(embedder.run_async(documents), embedder.run_async(documents[:1]))
    assert [d.embedding for d in results[0]["documents"]] == [d.embedding for d in sync_result["documents"]]
    assert results[1]["documents"][0].embedding == sync_result["documents"][0].embedding


def test_concurrent_batches(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    emulator.latency = 0.2
    documents = image_docs(write_images(tmp_path, 8, size=(64, 48)))
    result = make(emulator, api_key, batch_size=1, max_concurrency=4).run(documents)
    assert emulator.max_in_flight >= 3
    assert all(d.embedding is not None for d in result["documents"])


def test_images_are_read_lazily_just_before_their_request(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    """The third batch's file changes after the first request arrived: what goes out is the new file."""
    paths = write_images(tmp_path, 3, size=(64, 48))
    replaced = paths[2]

    def swap_file(request: RecordedRequest) -> bool:
        Image.new("RGB", (10, 20), (0, 255, 0)).save(replaced, "JPEG")
        return False

    emulator.inject("latency", times=1, when=swap_file)
    make(emulator, api_key, batch_size=1, max_concurrency=1).run(image_docs(paths))
    requests = emulator.requests_to("/v1/embeddings")
    assert [decoded_inputs(r)[0].size for r in requests] == [(64, 48), (64, 48), (10, 20)]


# ------------------------------------------------------------------ bad documents


def bad_documents(tmp_path: Path) -> dict[str, Document]:
    root = tmp_path / "root"
    root.mkdir()
    photo((50, 50)).save(root / "good.png")
    photo((50, 50), seed=3).save(root / "good2.jpg")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "notes.txt").write_text("hello")
    Image.new("RGB", (50, 50)).save(root / "doc.pdf")
    photo((50, 50)).save(tmp_path / "outside.png")
    Image.new("RGB", (400, 400)).save(root / "huge.png")
    return {
        "good": Document(id="good", meta={"file_path": "good.png"}),
        "no_meta": Document(id="no_meta", meta={"path": "good.png"}),
        "missing": Document(id="missing", meta={"file_path": "nope.png"}),
        "corrupt": Document(id="corrupt", meta={"file_path": "corrupt.jpg"}),
        "unsupported": Document(id="unsupported", meta={"file_path": "notes.txt"}),
        "pdf_no_page": Document(id="pdf_no_page", meta={"file_path": "doc.pdf"}),
        "pdf_out_of_range": Document(id="pdf_out_of_range", meta={"file_path": "doc.pdf", "page_number": 2}),
        "escape": Document(id="escape", meta={"file_path": "../outside.png"}),
        "absolute_outside": Document(id="absolute_outside", meta={"file_path": str(tmp_path / "outside.png")}),
        "bomb": Document(id="bomb", meta={"file_path": "huge.png"}),
        "good2": Document(id="good2", meta={"file_path": "good2.jpg"}),
    }


EXPECTED_ERRORS = {
    "no_meta": "no 'file_path'",
    "missing": "no such file",
    "corrupt": "corrupt",
    "unsupported": "unsupported file type",
    "pdf_no_page": "no 'page_number'",
    "pdf_out_of_range": "page_number 2 is out of range",
    "escape": "escapes root_path",
    "absolute_outside": "escapes root_path",
    "bomb": "decompression-bomb limit",
}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_raise_on_failure_false_reports_every_bad_document(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    documents = bad_documents(tmp_path)
    embedder = make(emulator, api_key, root_path=str(tmp_path / "root"), batch_size=4, raise_on_failure=False)
    result = embedder.run(list(documents.values()))

    out = {d.id: d for d in result["documents"]}
    assert list(out) == list(documents)
    assert out["good"].embedding is not None and out["good2"].embedding is not None
    assert out["good"].meta["embedding_source"] == SOURCE
    failed = {item["id"]: item["error"] for item in result["meta"]["failed_documents"]}
    assert set(failed) == set(EXPECTED_ERRORS)
    for doc_id, expected in EXPECTED_ERRORS.items():
        assert expected in failed[doc_id], (doc_id, failed[doc_id])
        assert doc_id in failed[doc_id], "the error names the document"
        assert out[doc_id].embedding is None
        assert "embedding_source" not in out[doc_id].meta
    assert "corrupt.jpg" in failed["corrupt"] and "outside.png" in failed["escape"]
    sent = sum(len(r.json["input"]) for r in emulator.requests_to("/v1/embeddings"))
    assert sent == 2


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("bad", sorted(EXPECTED_ERRORS))
def test_raise_on_failure_raises_a_clear_error(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    documents = bad_documents(tmp_path)
    embedder = make(emulator, api_key, root_path=str(tmp_path / "root"), max_concurrency=1)
    with pytest.raises(JinaInputError, match=EXPECTED_ERRORS[bad]) as error:
        embedder.run([documents[bad], documents["good"]])
    assert bad in str(error.value)
    assert emulator.requests_to("/v1/embeddings") == [], "nothing is sent when the batch has a bad document"


def test_a_failed_request_fails_only_its_batch(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    documents = image_docs(write_images(tmp_path, 4, size=(32, 32)))
    emulator.inject("status", status=422, detail="Injected: image rejected")
    result = make(emulator, api_key, batch_size=2, max_concurrency=1, raise_on_failure=False).run(documents)
    assert [d.embedding is None for d in result["documents"]] == [True, True, False, False]
    assert [f["id"] for f in result["meta"]["failed_documents"]] == [documents[0].id, documents[1].id]
    assert "image rejected" in result["meta"]["failed_documents"][0]["error"]


def test_custom_meta_field_and_root(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    photo().save(tmp_path / "imgs" / "a.webp")
    embedder = make(emulator, api_key, file_path_meta_field="image", root_path=str(tmp_path / "imgs"))
    (document,) = embedder.run([Document(meta={"image": "a.webp"})])["documents"]
    assert document.embedding is not None
    assert document.meta["embedding_source"] == {"type": "image", "file_path_meta_field": "image"}


def test_warm_up_and_close_reuse_one_session(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    documents = image_docs(write_images(tmp_path, 3, size=(32, 32)))
    embedder = make(emulator, api_key, batch_size=1, max_concurrency=1)
    embedder.warm_up()
    embedder.run(documents)
    embedder.run(documents)
    assert emulator.connections == 1
    embedder.close()


# ------------------------------------------------------------------ images as Jina's API takes them


def noise_png(path: Path, size: tuple[int, int]) -> int:
    """A PNG of RGB noise: it compresses badly, so it is large. Returns its size in bytes."""
    channels = [Image.effect_noise(size, 120).convert("L") for _ in range(3)]
    Image.merge("RGB", channels).save(path, "PNG", compress_level=1)
    return path.stat().st_size


def test_an_image_over_8_mb_is_re_encoded_under_the_limit(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    path = tmp_path / "huge.png"
    assert noise_png(path, (2400, 2000)) * 4 / 3 > 8_000_000  # as it is, its base64 is over the API's limit
    result = make(emulator, api_key, image_size=None).run([Document(id="big", meta={"file_path": str(path)})])
    assert result["documents"][0].embedding
    # This image's requests, by their one large image: on a busy machine an attempt may time out and be sent
    # again, and a call an earlier test left behind may still reach the shared emulator. Every one is checked.
    sent = [r for r in emulator.requests_to("/v1/embeddings") if len(r.body) > 1_000_000]
    assert sent
    for request in sent:
        (item,) = request.json["input"]
        assert len(item["image"]) <= 8_000_000  # never the image as it is, not even on a first try
        (image,) = decoded_inputs(request)
        assert image.size == (2400, 2000)  # re-encoding was enough: no pixel lost


def test_a_url_in_the_meta_field_is_sent_as_the_url_without_download(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    png = io.BytesIO()
    photo(seed=3).save(png, "PNG")
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(png.getvalue())))
            self.end_headers()
            self.wfile.write(png.getvalue())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cat.png"
        photo(seed=1).save(tmp_path / "local.jpg")
        documents = [Document(meta={"file_path": url}), Document(meta={"file_path": "local.jpg"})]
        # root_path confines local files; a URL is not a local file
        result = make(emulator, api_key, root_path=str(tmp_path)).run(documents)
    finally:
        server.shutdown()
        server.server_close()
    assert all(d.embedding for d in result["documents"])
    (request,) = emulator.requests
    assert request.json["input"][0] == {"image": url}
    assert fetched == ["/cat.png"]  # one fetch: the emulator's, standing in for Jina; the client downloaded nothing


def test_a_pdf_url_is_sent_as_a_pdf_and_a_page_of_one_is_refused_naming_the_document(
    emulator: JinaEmulator, api_key: Secret, tmp_path: Path
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    pages = [Image.new("RGB", (200, 100), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    pages[0].save(tmp_path / "doc.pdf", resolution=72, save_all=True, append_images=pages[1:])
    pages[1].save(tmp_path / "page2.png")
    files = {"/doc.pdf": (tmp_path / "doc.pdf").read_bytes(), "/page2.png": (tmp_path / "page2.png").read_bytes()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    documents = [
        Document(id="whole", meta={"file_path": f"{origin}/doc.pdf"}),
        Document(id="page", meta={"file_path": f"{origin}/doc.pdf", "page_number": 2}),
        Document(id="rendered", meta={"file_path": f"{origin}/page2.png", "page_number": 2}),  # an image: fine
        Document(id="local", meta={"file_path": str(tmp_path / "doc.pdf"), "page_number": 1}),
    ]
    try:
        with pytest.raises(JinaInputError, match=r"document page .*Download the file"):
            make(emulator, api_key).run(documents)
        assert emulator.requests == []
        result = make(emulator, api_key, raise_on_failure=False).run(documents)
    finally:
        server.shutdown()
        server.server_close()
    whole, page, rendered, local = result["documents"]
    assert [f["id"] for f in result["meta"]["failed_documents"]] == ["page"]
    assert "page 2 of a PDF given by URL cannot be selected" in result["meta"]["failed_documents"][0]["error"]
    batch, pdf = sorted(emulator.requests, key=lambda r: isinstance(r.json["input"], dict))
    assert batch.json["input"][0] == {"image": f"{origin}/page2.png"}
    assert pdf.json["input"] == {"pdf": f"{origin}/doc.pdf"}  # alone, not in a list, as the spec wants
    assert whole.embedding and rendered.embedding and local.embedding and page.embedding is None
    assert cosine(whole.embedding, local.embedding) > 0.95  # the whole PDF is embedded as its first page
