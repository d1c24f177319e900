"""The parameters every component shares are documented in the same words (`PARAMETER_DOCS`), statically.

Static docstrings, not generated ones: IDEs and Haystack's docs generator read the source, so text built at
import time would not show where users read parameter docs. This test keeps the copies one source.
"""

from __future__ import annotations

import inspect
import re

import pytest

from haystack_integrations.common.jina.component_utils import PARAMETER_DOCS
from haystack_integrations.common.jina.reader_options import READER_OPTION_DOCS, READER_OPTIONS
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.embedders import jina as embedders
from haystack_integrations.components.fetchers.jina import JinaReaderFetcher
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.components.routers.jina import JinaTextRouter
from haystack_integrations.components.websearch.jina import JinaWebSearch

COMPONENTS = [
    JinaDocumentClassifier,
    JinaReaderConnector,
    JinaReaderConverter,
    JinaReaderFetcher,
    JinaRanker,
    JinaTextRouter,
    JinaWebSearch,
    *(getattr(embedders, name) for name in embedders.__all__ if name.startswith("Jina")),
]
#: Where a component says more, and why.
SAYS_MORE = {
    ("JinaWebSearch", "api_key"): "search requires a key",
    ("JinaBatchDocumentEmbedder", "timeout"): "per HTTP request, not per job",
    ("JinaBatchDocumentEmbedder", "max_retries"): "polling goes on after a request gave up",
}


def parameter_docs(component: type) -> dict[str, str]:
    doc = inspect.getdoc(component.__init__) or ""
    found = re.findall(r"^:param (\w+): (.*?)(?=^:|\Z)", doc, flags=re.MULTILINE | re.DOTALL)
    return {name: " ".join(text.split()) for name, text in found}


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_shared_parameters_are_documented_in_the_shared_words(component: type) -> None:
    docs = parameter_docs(component)
    for name, text in PARAMETER_DOCS.items():
        assert name in docs, f"{component.__name__} does not document {name}"
        if (component.__name__, name) not in SAYS_MORE:
            assert docs[name] == text, f"{component.__name__}.{name}"


READER_COMPONENTS = [JinaReaderConnector, JinaReaderFetcher, JinaReaderConverter]


def test_every_reader_option_has_its_words() -> None:
    assert tuple(READER_OPTION_DOCS) == READER_OPTIONS


@pytest.mark.parametrize("component", READER_COMPONENTS, ids=lambda c: c.__name__)
def test_reader_options_are_documented_one_by_one_in_the_shared_words(component: type) -> None:
    # one `:param` line per option, so an IDE's hover on e.g. `target_selector` says what it does
    docs = parameter_docs(component)
    for name, text in READER_OPTION_DOCS.items():
        assert name in docs, f"{component.__name__} does not document {name}"
        assert docs[name] == " ".join(text.split()), f"{component.__name__}.{name}"
