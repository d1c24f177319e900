"""Pipeline YAML written by the published jina-haystack 2.x loads and runs with this package."""

from __future__ import annotations

from pathlib import Path

import pytest
from haystack import Document, Pipeline
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.testing.jina import JinaEmulator

FIXTURES = Path(__file__).parent / "fixtures" / "published"


def load(name: str, emulator: JinaEmulator) -> Pipeline:
    text = (FIXTURES / f"{name}.yaml").read_text(encoding="utf-8").replace("{EMULATOR}", emulator.url)
    return Pipeline.loads(text)


def test_text_embedder(emulator: JinaEmulator, api_key: Secret) -> None:
    result = load("text_embedder", emulator).run({"embedder": {"text": "hello"}})
    assert len(result["embedder"]["embedding"]) == 256
    assert emulator.requests[0].json["task"] == "retrieval.query"


def test_document_embedder(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content=f"text {i}", meta={"title": f"T{i}"}) for i in range(3)]
    result = load("document_embedder", emulator).run({"embedder": {"documents": documents}})
    assert all(len(d.embedding or []) == 1024 for d in result["embedder"]["documents"])
    sent = sorted(text for r in emulator.requests for text in r.json["input"])
    assert sent == ["T0\ntext 0", "T1\ntext 1", "T2\ntext 2"]
    # `late_chunking: false` means what leaving it out means, so it is not sent
    assert all("late_chunking" not in r.json for r in emulator.requests)


def test_document_image_embedder(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    Image.new("RGB", (800, 600), "teal").save(tmp_path / "a.png")
    pipeline = load("document_image_embedder", emulator)
    embedder = pipeline.get_component("embedder")
    assert embedder.image_size == (256, 256)
    document = Document(content="teal", meta={"file_path": str(tmp_path / "a.png")})
    result = pipeline.run({"embedder": {"documents": [document]}})
    assert len(result["embedder"]["documents"][0].embedding) == 512
    # and it writes YAML that loads again, tuple included
    assert Pipeline.loads(pipeline.dumps()).get_component("embedder").image_size == (256, 256)


def test_ranker(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content=c) for c in ("cats purr", "dogs bark loudly", "cats and dogs", "fish swim")]
    result = load("ranker", emulator).run({"ranker": {"query": "dogs", "documents": documents}})
    ranked = result["ranker"]["documents"]
    assert len(ranked) == 2
    assert {d.content for d in ranked} == {"dogs bark loudly", "cats and dogs"}


def test_reader(emulator: JinaEmulator, api_key: Secret) -> None:
    pipeline = load("reader", emulator)
    reader = pipeline.get_component("reader")
    assert str(reader.mode) == "search"
    assert reader.json_response is True
    # the published YAML has no base_url (it always called s.jina.ai); point this instance at the emulator
    reader.base_url = emulator.search_url
    emulator.corpus = [{"url": "https://e.org/p", "title": "Pizza", "content": "Pizza comes from Naples."}]
    documents = pipeline.run({"reader": {"query": "pizza naples"}})["reader"]["documents"]
    assert documents[0].meta["url"] == "https://e.org/p"


@pytest.mark.parametrize("name", ["text_embedder", "document_embedder", "document_image_embedder", "ranker", "reader"])
def test_round_trip_keeps_published_keys(emulator: JinaEmulator, api_key: Secret, name: str) -> None:
    import yaml

    text = (FIXTURES / f"{name}.yaml").read_text(encoding="utf-8").replace("{EMULATOR}", emulator.url)
    published = yaml.safe_load(text.replace("!!python/tuple", ""))
    ((component_name, spec),) = published["components"].items()
    ours = load(name, emulator).to_dict()["components"][component_name]
    assert ours["type"] == spec["type"]
    for key, value in spec["init_parameters"].items():
        got = ours["init_parameters"][key]
        assert (list(got) if isinstance(got, tuple) else got) == value, key
