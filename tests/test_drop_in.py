"""Drop-in both ways: YAML of default-built components binds to the published package's signatures.

`fixtures/published/signatures.json` holds the published package's `__init__` signatures and the keys
its `to_dict` writes (facts read from its wheel; see the fixtures' README).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from haystack import Pipeline
from haystack.utils import Secret

from haystack_integrations.common.jina.component_utils import ADDED_TO_EVERY_COMPONENT, JinaComponentBase, to_dict
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

PUBLISHED = json.loads((Path(__file__).parent / "fixtures" / "published" / "signatures.json").read_text())["components"]


def build(cls: type, **kwargs: Any) -> Any:
    if cls is JinaReaderConnector:
        return cls("read", **kwargs)
    if cls in (JinaDocumentClassifier, JinaTextRouter):  # labels are required (a router's sockets)
        return cls(["sports", "cooking"], **kwargs)
    return cls(**kwargs)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


PUBLISHED_CLASSES = [JinaTextEmbedder, JinaDocumentEmbedder, JinaDocumentImageEmbedder, JinaRanker, JinaReaderConnector]
#: Components the published package does not have: all their parameters are written (but `max_concurrency`).
NEW_CLASSES = [
    JinaReaderFetcher,
    JinaReaderConverter,
    JinaSparseTextEmbedder,
    JinaSparseDocumentEmbedder,
    JinaDocumentClassifier,
    JinaTextRouter,
    JinaBatchDocumentEmbedder,
]
EVERY_CLASS = [*PUBLISHED_CLASSES, JinaWebSearch, *NEW_CLASSES]
#: A non-default value for each parameter this package added, per component: written, and read back.
ADDED_VALUES: dict[type, dict[str, Any]] = {
    JinaTextEmbedder: {"embedding_type": "binary", "normalized": True, "truncate": True, "timeout": 5.0},
    JinaDocumentEmbedder: {"max_concurrency": 2, "raise_on_failure": False, "max_retries": 1, "truncate": False},
    JinaDocumentImageEmbedder: {"task": "retrieval.query", "progress_bar": False, "max_concurrency": 3},
    JinaRanker: {"meta_fields_to_embed": ["title"], "embedding_separator": " | ", "max_concurrency": 2},
    JinaReaderConnector: {"base_url": "https://eu.r.jina.ai/", "return_format": "text", "no_cache": True},
    JinaWebSearch: {"allowed_domains": ["example.org"]},
    JinaReaderFetcher: {"max_concurrency": 2},
    JinaReaderConverter: {"max_concurrency": 2},
    JinaSparseTextEmbedder: {"max_concurrency": 2},
    JinaSparseDocumentEmbedder: {"max_concurrency": 2},
    JinaDocumentClassifier: {"max_concurrency": 2},
    JinaTextRouter: {"max_concurrency": 2},
    JinaBatchDocumentEmbedder: {"max_concurrency": 2},
}


def published_signature(cls: type) -> inspect.Signature:
    """A stand-in for the published `__init__`: the fixture's parameters, to bind serialized init_parameters to."""
    kinds = {kind.name.lower(): kind for kind in inspect._ParameterKind}
    parameters = [
        inspect.Parameter(p["name"], kinds[p["kind"]], default=p.get("default", inspect.Parameter.empty))
        for p in PUBLISHED[type_name(cls)]["parameters"]
    ]
    return inspect.Signature(parameters)


def test_the_fixture_covers_every_published_component() -> None:
    assert set(PUBLISHED) == {type_name(cls) for cls in PUBLISHED_CLASSES}


@pytest.mark.parametrize("cls", PUBLISHED_CLASSES, ids=lambda c: c.__name__)
def test_default_built_components_serialize_as_the_published_package(api_key: Secret, cls: type) -> None:
    data = build(cls).to_dict()
    assert data["type"] == type_name(cls)
    assert sorted(data["init_parameters"]) == PUBLISHED[type_name(cls)]["to_dict_keys"]
    # the published __init__ accepts every key (a required one, the reader's mode, is there)
    published_signature(cls).bind(**data["init_parameters"])


@pytest.mark.parametrize("cls", PUBLISHED_CLASSES, ids=lambda c: c.__name__)
def test_published_parameters_keep_their_name_kind_position_and_default(cls: type) -> None:
    ours = list(inspect.signature(cls.__init__).parameters.values())[1:]
    by_name = {p.name: p for p in ours}
    for position, published in enumerate(PUBLISHED[type_name(cls)]["parameters"]):
        mine = by_name[published["name"]]
        assert mine.kind.name.lower() == published["kind"], mine.name
        if mine.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            assert ours[position] is mine, f"{mine.name} moved"
        default = mine.default.to_dict() if isinstance(mine.default, Secret) else mine.default
        assert default == published.get("default", inspect.Parameter.empty), mine.name


@pytest.mark.parametrize("cls", EVERY_CLASS, ids=lambda c: c.__name__)
def test_added_parameters_are_written_only_when_set_and_read_back(api_key: Secret, cls: type) -> None:
    default = build(cls)
    assert type(default).from_dict(default.to_dict()).to_dict() == default.to_dict()
    for name in ADDED_VALUES[cls]:
        assert name not in default.to_dict()["init_parameters"], name

    changed = build(cls, **ADDED_VALUES[cls])
    written = changed.to_dict()["init_parameters"]
    assert {name: written[name] for name in ADDED_VALUES[cls]} == ADDED_VALUES[cls]
    loaded = type(changed).from_dict(changed.to_dict())
    assert loaded.to_dict() == changed.to_dict()
    for name, value in ADDED_VALUES[cls].items():
        assert getattr(loaded, name) == value


@pytest.mark.parametrize("cls", NEW_CLASSES, ids=lambda c: c.__name__)
def test_new_components_write_every_parameter_but_max_concurrency(api_key: Secret, cls: type) -> None:
    assert cls.always_serialized is None  # nothing published to stay loadable in: their first release's form
    parameters = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(build(cls).to_dict()["init_parameters"]) == parameters - ADDED_TO_EVERY_COMPONENT


def test_a_default_built_image_ranker_serializes_as_the_published_package(api_key: Secret) -> None:
    # the image options (jina-reranker-m0) are written only when set, like every parameter added here
    data = JinaRanker(model="jina-reranker-m0").to_dict()
    assert sorted(data["init_parameters"]) == PUBLISHED[type_name(JinaRanker)]["to_dict_keys"]
    published_signature(JinaRanker).bind(**data["init_parameters"])


def test_pipeline_yaml_of_default_components_binds_to_the_published_signatures(api_key: Secret) -> None:
    pipeline = Pipeline()
    for cls in PUBLISHED_CLASSES:
        pipeline.add_component(cls.__name__, build(cls))
    import yaml

    loaded = yaml.safe_load(pipeline.dumps())
    for spec in loaded["components"].values():
        cls = next(c for c in PUBLISHED_CLASSES if type_name(c) == spec["type"])
        published_signature(cls).bind(**spec["init_parameters"])
    assert Pipeline.loads(pipeline.dumps()).dumps() == pipeline.dumps()  # our own YAML loads unchanged


class _Later(JinaComponentBase):
    """A component whose later release adds `max_concurrency` (as issue 16 does to the text embedder)."""

    def __init__(self, api_key: Secret = Secret.from_env_var("JINA_API_KEY"), size: int = 1, max_concurrency: int = 5):  # noqa: B008
        self.api_key, self.size, self.max_concurrency = api_key, size, max_concurrency

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self, self.api_key, size=self.size, max_concurrency=self.max_concurrency)


def test_max_concurrency_is_written_only_when_set_for_every_component() -> None:
    assert _Later().to_dict()["init_parameters"] == {
        "api_key": Secret.from_env_var("JINA_API_KEY").to_dict(),
        "size": 1,
    }
    assert _Later(max_concurrency=9).to_dict()["init_parameters"]["max_concurrency"] == 9
    _Later.always_serialized = frozenset({"api_key"})
    try:
        assert "size" not in _Later().to_dict()["init_parameters"]
        assert _Later(size=2).to_dict()["init_parameters"]["size"] == 2
    finally:
        _Later.always_serialized = None


def test_values_other_than_the_default_are_written(api_key: Secret) -> None:
    assert JinaTextEmbedder(timeout=60).to_dict()["init_parameters"]["timeout"] == 60
    assert JinaTextEmbedder(late_chunking=False).to_dict()["init_parameters"]["late_chunking"] is False
