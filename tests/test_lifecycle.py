"""Lifecycle (key resolved at warm-up, not construction), copies and pickles, on the components."""

from __future__ import annotations

import asyncio
import copy
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from haystack import Document, Pipeline
from haystack.dataclasses import ByteStream
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.common.jina import engine
from haystack_integrations.common.jina.errors import JinaMissingKeyError
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.embedders.jina import (
    JinaBatchDocumentEmbedder,
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaSparseDocumentEmbedder,
    JinaSparseTextEmbedder,
    JinaTextEmbedder,
)
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.routers.jina import JinaTextRouter
from haystack_integrations.components.websearch.jina import JinaWebSearch
from haystack_integrations.testing.jina import JinaEmulator

NAMES = ["text_embedder", "document_embedder", "image_embedder", "ranker", "reader"]
NAMES += ["sparse_text_embedder", "sparse_document_embedder", "converter", "classifier", "router", "batch_embedder"]
LABELS = ["food", "drink"]
CORPUS = [
    {"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza comes from Naples."},
    {"url": "https://example.org/tea", "title": "Tea", "content": "Green tea is not fermented."},
]
DOCS = [Document(content="Pizza comes from Naples."), Document(content="Green tea is not fermented.")]


def make(name: str, emulator: JinaEmulator, folder: Path) -> Any:
    """The component `name` pointed at the emulator, with the key read from JINA_API_KEY (not yet resolved)."""
    if name == "text_embedder":
        return JinaTextEmbedder(base_url=emulator.embeddings_url, dimensions=64)
    if name == "document_embedder":
        return JinaDocumentEmbedder(base_url=emulator.embeddings_url, progress_bar=False, batch_size=1)
    if name == "image_embedder":
        return JinaDocumentImageEmbedder(base_url=emulator.embeddings_url, root_path=str(folder), progress_bar=False)
    if name == "ranker":
        return JinaRanker(base_url=emulator.rerank_url, top_k=1)
    if name == "sparse_text_embedder":
        return JinaSparseTextEmbedder(base_url=emulator.embeddings_url)
    if name == "sparse_document_embedder":
        return JinaSparseDocumentEmbedder(base_url=emulator.embeddings_url, progress_bar=False, batch_size=1)
    if name == "converter":
        return JinaReaderConverter(base_url=emulator.reader_url)
    if name == "classifier":
        return JinaDocumentClassifier(LABELS, base_url=emulator.classify_url, progress_bar=False, batch_size=1)
    if name == "router":
        return JinaTextRouter(LABELS, base_url=emulator.classify_url)
    if name == "batch_embedder":
        return JinaBatchDocumentEmbedder(
            model="jina-embeddings-v5-text-nano", base_url=emulator.url, poll_interval=0.01, progress_bar=False
        )
    return JinaReaderConnector("search", base_url=emulator.search_url)


def run(name: str, component: Any) -> Any:
    """Run the component once; returns what identifies its answer (vectors, contents, scores)."""
    if name == "text_embedder":
        return component.run("Where is pizza from?")["embedding"]
    if name in ("document_embedder", "batch_embedder"):
        return [d.embedding for d in component.run(DOCS)["documents"]]
    if name == "image_embedder":
        images = [Document(content="red", meta={"file_path": "red.png"})]
        return [d.embedding for d in component.run(images)["documents"]]
    if name == "ranker":
        return [(d.content, d.score) for d in component.run("pizza", DOCS)["documents"]]
    if name == "sparse_text_embedder":
        return component.run("Where is pizza from?")["sparse_embedding"]
    if name == "sparse_document_embedder":
        return [d.sparse_embedding for d in component.run(DOCS)["documents"]]
    if name == "converter":
        page = ByteStream(b"<h1>Pizza</h1><p>Pizza comes from Naples.</p>", mime_type="text/html")
        return [d.content for d in component.run(sources=[page])["documents"]]
    if name == "classifier":
        return [d.meta["classification"] for d in component.run(DOCS)["documents"]]
    if name == "router":
        return component.run("Green tea is a drink.")
    return [d.meta["url"] for d in component.run("pizza")["documents"]]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    Image.new("RGB", (24, 24), "red").save(tmp_path / "red.png")
    return tmp_path


@pytest.fixture
def world(emulator: JinaEmulator, folder: Path) -> JinaEmulator:
    emulator.corpus = list(CORPUS)
    return emulator


@pytest.mark.parametrize("name", NAMES)
def test_built_and_serialized_without_a_key_then_missing_key_fails_at_warm_up_and_run(
    name: str, world: JinaEmulator, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    component = make(name, world, folder)
    restored = type(component).from_dict(component.to_dict())
    for attempt in (component.warm_up, lambda: run(name, restored)):
        with pytest.raises(JinaMissingKeyError, match="JINA_API_KEY"):
            attempt()
    assert not world.requests

    assert world.api_key is not None
    monkeypatch.setenv("JINA_API_KEY", world.api_key)
    assert run(name, component) == run(name, restored)


@pytest.mark.parametrize("name", NAMES)
async def test_lifecycle_methods_are_idempotent_and_share_one_session(
    name: str, world: JinaEmulator, folder: Path, api_key: Secret
) -> None:
    component = make(name, world, folder)
    component.warm_up()
    component.warm_up()
    await component.warm_up_async()
    session = component._client.session
    first = run(name, component)
    assert await asyncio.to_thread(run, name, component) == first
    assert component._client.session is session
    assert world.connections <= len(DOCS)  # the two runs reused the connections (at most one per request at once)
    component.close()
    component.close()
    await component.close_async()
    assert not component._client.is_open
    assert run(name, component) == first  # a run after close opens a new session
    await component.close_async()
    component.close()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_before_and_after_use_work_alike_with_their_own_session(
    name: str, how: str, world: JinaEmulator, folder: Path, api_key: Secret
) -> None:
    duplicate: Callable[[Any], Any] = copy.deepcopy if how == "deepcopy" else lambda c: pickle.loads(pickle.dumps(c))
    original = make(name, world, folder)
    before = duplicate(original)
    expected = run(name, original)
    assert original._client.is_open
    after = duplicate(original)
    for twin in (before, after):
        assert twin.to_dict() == original.to_dict()
        assert not twin._client.is_open  # never a live session: a copy opens its own
        assert twin._client._lock is not original._client._lock
        assert twin._client._slots is None  # slots of its own, made on first use
        assert run(name, twin) == expected
        assert twin._client.session is not original._client.session
    assert world.api_key is not None
    assert world.api_key.encode() not in pickle.dumps(original)  # an env-var Secret pickles as its name


def test_copy_of_a_component_with_requests_in_flight_starts_with_free_slots(
    emulator: JinaEmulator, api_key: Secret
) -> None:
    embedder = JinaTextEmbedder(base_url=emulator.embeddings_url, max_concurrency=2)
    client = embedder._client

    async def take_every_slot() -> None:  # as if every slot were taken by a request in flight right now
        slots = client._component_slots()
        assert slots is not None
        for _ in range(2):
            await slots.acquire()

    engine.run_sync(take_every_slot())
    twin = copy.deepcopy(embedder)
    assert twin._client._slots is None
    assert twin.run("still answers")["embedding"]


def five_component_pipeline() -> Pipeline:
    """All five components with their hosted defaults: no base_url anywhere, no key needed to build it."""
    pipeline = Pipeline()
    pipeline.add_component("search", JinaReaderConnector("search"))
    pipeline.add_component("embedder", JinaDocumentEmbedder(progress_bar=False))
    pipeline.add_component("ranker", JinaRanker(top_k=1))
    pipeline.add_component("query", JinaTextEmbedder())
    pipeline.add_component("images", JinaDocumentImageEmbedder(progress_bar=False))
    pipeline.connect("search.documents", "embedder.documents")
    pipeline.connect("embedder.documents", "ranker.documents")
    return pipeline


def test_pipeline_of_all_five_builds_dumps_and_loads_without_a_key_and_follows_the_environment(
    world: JinaEmulator, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("JINA_API_KEY", "JINA_API_BASE_URL", "JINA_READER_BASE_URL", "JINA_SEARCH_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    yaml_text = five_component_pipeline().dumps()
    assert "127.0.0.1" not in yaml_text
    loaded = Pipeline.loads(yaml_text)  # unmodified: every URL in it is the hosted default

    assert world.api_key is not None
    monkeypatch.setenv("JINA_API_KEY", world.api_key)
    monkeypatch.setenv("JINA_API_BASE_URL", world.url)
    monkeypatch.setenv("JINA_SEARCH_BASE_URL", world.search_url)
    loaded.warm_up()
    result = loaded.run(
        {
            "search": {"query": "pizza"},
            "ranker": {"query": "Where is pizza from?"},
            "query": {"text": "pizza"},
            "images": {"documents": [Document(content="red", meta={"file_path": str(folder / "red.png")})]},
        }
    )
    loaded.close() if hasattr(loaded, "close") else None  # Pipeline.close exists from Haystack 3

    assert result["ranker"]["documents"][0].meta["url"] == "https://example.org/pizza"
    assert len(result["query"]["embedding"]) == 1024
    assert result["images"]["documents"][0].embedding
    paths = [request.path.split("?")[0] for request in world.requests]
    assert sorted(set(paths)) == ["/s/pizza", "/v1/embeddings", "/v1/rerank"]


@pytest.mark.skipif(not hasattr(Pipeline, "close_async"), reason="Pipeline.run_async and close_async: Haystack 3")
async def test_pipeline_run_async_warm_up_async_and_close_async(world: JinaEmulator, api_key: Secret) -> None:
    pipeline = Pipeline()
    pipeline.add_component("query", JinaTextEmbedder(base_url=world.embeddings_url))
    result = await pipeline.run_async({"query": {"text": "pizza"}})
    component = pipeline.get_component("query")
    assert component._client.is_open  # run_async warmed it up
    await pipeline.close_async()
    assert not component._client.is_open
    assert result["query"]["embedding"]


@pytest.mark.parametrize(
    "cls",
    [
        JinaTextEmbedder,
        JinaDocumentEmbedder,
        JinaDocumentImageEmbedder,
        JinaRanker,
        JinaReaderConnector,
        JinaWebSearch,
        JinaReaderFetcher,
        JinaDocumentClassifier,
        JinaTextRouter,
        JinaSparseTextEmbedder,
        JinaSparseDocumentEmbedder,
        JinaReaderConverter,
    ],
)
def test_socket_types_are_types_not_strings(cls: type) -> None:
    """Haystack before 2.24 compares socket types as given: a string annotation (from `from __future__ import
    annotations` in a component module) would refuse every connection there, as it did on 2.20 to 2.23."""
    import inspect

    for method in (cls.run, cls.run_async):
        for parameter in inspect.signature(method).parameters.values():
            assert not isinstance(parameter.annotation, str), f"{cls.__name__}.{method.__name__}: {parameter}"


@pytest.mark.parametrize(
    "name", ["document_embedder", "image_embedder", "fetcher", "sparse_document_embedder", "classifier", "converter"]
)
@pytest.mark.parametrize("how", ["run", "run_async"])
def test_missing_key_raises_even_when_failures_are_reported_per_item(
    name: str, how: str, world: JinaEmulator, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10: a missing key raises at the first warm_up/run, it is never reported as each item failing.
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    component: Any
    if name == "fetcher":
        component = JinaReaderFetcher(base_url=world.reader_url, raise_on_failure=False)
        inputs: Any = ["https://example.org/pizza"]
    elif name == "image_embedder":
        component = JinaDocumentImageEmbedder(
            base_url=world.embeddings_url, root_path=str(folder), progress_bar=False, raise_on_failure=False
        )
        inputs = [Document(content="red", meta={"file_path": "red.png"})]
    elif name == "sparse_document_embedder":
        component = JinaSparseDocumentEmbedder(
            base_url=world.embeddings_url, progress_bar=False, raise_on_failure=False
        )
        inputs = DOCS
    elif name == "classifier":
        component = JinaDocumentClassifier(
            LABELS, base_url=world.classify_url, progress_bar=False, raise_on_failure=False
        )
        inputs = DOCS
    elif name == "converter":
        component = JinaReaderConverter(base_url=world.reader_url, raise_on_failure=False)
        inputs = [ByteStream(b"<p>Pizza comes from Naples.</p>", mime_type="text/html")]
    else:
        component = JinaDocumentEmbedder(base_url=world.embeddings_url, progress_bar=False, raise_on_failure=False)
        inputs = DOCS
    call = (lambda: component.run(inputs)) if how == "run" else lambda: asyncio.run(component.run_async(inputs))
    with pytest.raises(JinaMissingKeyError, match="JINA_API_KEY"):
        call()
    assert not world.requests
