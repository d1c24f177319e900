"""What a new user trips over: errors that name the fix, the published wording and meta, agent-ready tools."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, get_args

import pytest
from haystack import Document
from haystack.tools import ComponentTool
from haystack.utils import Secret
from PIL import Image

from haystack_integrations.common.jina import JinaBadRequestError
from haystack_integrations.common.jina.reader import ENUMERATED_OPTIONS
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier
from haystack_integrations.components.connectors.jina import JinaReaderConnector
from haystack_integrations.components.converters.jina import JinaReaderConverter
from haystack_integrations.components.embedders.jina import (
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
from haystack_integrations.components.websearch.jina.web_search import ReturnFormat
from haystack_integrations.testing.jina import JinaEmulator

LONG_TEXT = "word " * 9000  # more tokens than jina-embeddings-v3's 8192


# ---------------------------------------------------------------------------------------------- published wording
def test_text_embedder_type_error_has_the_published_wording(api_key: Secret) -> None:
    with pytest.raises(TypeError, match="JinaTextEmbedder expects a string as an input") as info:
        JinaTextEmbedder().run(["a list"])  # type: ignore[arg-type]
    assert "JinaDocumentEmbedder" in str(info.value)


def test_failed_documents_only_when_failures_can_be_reported(emulator: JinaEmulator, api_key: Secret) -> None:
    documents = [Document(content="pizza"), Document(content="")]
    strict = JinaDocumentEmbedder(base_url=emulator.embeddings_url, progress_bar=False)
    assert strict.run(documents[:1])["meta"].keys() == {"model", "usage"}
    lenient = JinaDocumentEmbedder(base_url=emulator.embeddings_url, progress_bar=False, raise_on_failure=False)
    meta = lenient.run(documents)["meta"]
    assert [failed["id"] for failed in meta["failed_documents"]] == [documents[1].id]
    assert lenient.run([])["meta"] == {"model": "jina-embeddings-v3", "usage": {}, "failed_documents": []}


# ------------------------------------------------------------------------------------------ errors that name the fix
def test_an_over_long_input_says_truncate_fixes_it(emulator: JinaEmulator, api_key: Secret) -> None:
    with pytest.raises(JinaBadRequestError, match=r"truncate=True") as info:
        JinaTextEmbedder(base_url=emulator.embeddings_url).run(LONG_TEXT)
    assert info.value.status_code == 400 and "8192 tokens" in str(info.value)  # INPUT_TOKEN_LIMIT_EXCEEDED (2026.06.29)
    with pytest.raises(JinaBadRequestError, match=r"truncate=True"):
        JinaDocumentEmbedder(base_url=emulator.embeddings_url, progress_bar=False).run([Document(content=LONG_TEXT)])
    # and it does fix it
    assert JinaTextEmbedder(base_url=emulator.embeddings_url, truncate=True).run(LONG_TEXT)["embedding"]


def test_the_hint_does_not_depend_on_the_status_or_wording(emulator: JinaEmulator, api_key: Secret) -> None:
    # Jina's reference only says over-long input "returns an error" without truncate: a 400 in its own words
    emulator.inject("status", status=400, detail="Input exceeds the model's max token limit")
    with pytest.raises(JinaBadRequestError, match=r"truncate=True"):
        JinaTextEmbedder(base_url=emulator.embeddings_url).run("fine")
    emulator.inject("status", status=400, detail="Input exceeds the model's max token limit")
    with pytest.raises(JinaBadRequestError) as info:  # set already: the hint would not help
        JinaTextEmbedder(base_url=emulator.embeddings_url, truncate=True).run("fine")
    assert "truncate=True" not in str(info.value)


def test_other_bad_requests_get_no_truncate_hint(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=422, detail="input[0] is an empty string.")
    with pytest.raises(JinaBadRequestError) as info:
        JinaTextEmbedder(base_url=emulator.embeddings_url).run("fine")
    assert "truncate" not in str(info.value)


@pytest.mark.parametrize(
    ("build", "suggestion"),
    [
        (lambda: JinaTextEmbedder(model="jina-embedding-v3"), "jina-embeddings-v3"),
        (lambda: JinaDocumentEmbedder(model="Jina-Embeddings-V4"), "jina-embeddings-v4"),
        (lambda: JinaDocumentImageEmbedder(model="jina-clipv2"), "jina-clip-v2"),
        (lambda: JinaRanker("jina-reranker-v2-base-multilingal"), "jina-reranker-v2-base-multilingual"),
        (lambda: JinaSparseTextEmbedder(model="Elser-V2"), "elser-v2"),
        (lambda: JinaSparseDocumentEmbedder(model="elsr-v2"), "elser-v2"),
        (lambda: JinaDocumentClassifier(["a", "b"], model="jina-embedding-v3"), "jina-embeddings-v3"),
        (lambda: JinaTextRouter(["a", "b"], model="jina-clipv2"), "jina-clip-v2"),
    ],
)
def test_a_typo_of_a_known_model_says_did_you_mean(api_key: Secret, build: Any, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean '{suggestion}'"):
        build()


def test_other_unknown_models_still_pass(api_key: Secret, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert JinaTextEmbedder(model="jina-embeddings-v6").model_name == "jina-embeddings-v6"  # a new version
        assert JinaTextEmbedder(model="jina-embeddings-v3-small").model_name == "jina-embeddings-v3-small"
        assert JinaRanker("my-own-reranker").model == "my-own-reranker"
    # a resemblance that is no typo is mentioned, not refused
    assert "did you mean jina-embeddings-v3" in caplog.text


def test_model_errors_name_constructor_parameters(api_key: Secret) -> None:
    with pytest.raises(ValueError, match="jina-embeddings-v4 has no `normalized`") as info:
        JinaTextEmbedder(model="jina-embeddings-v4", normalized=True)
    message = str(info.value)
    assert "return_multivector" not in message and "return_tokenized_input" not in message
    assert "dimensions (1 to 2048)" in message and "late_chunking" in message
    with pytest.raises(ValueError, match=r"embedding_dimension \(1 to 1024\)"):
        JinaDocumentImageEmbedder(model="jina-clip-v2", task="retrieval.passage")
    with pytest.raises(ValueError, match=r"It accepts none of max_doc_length") as ranker_error:
        JinaRanker("jina-reranker-m0", max_doc_length=10)
    assert "top_n" not in str(ranker_error.value)  # an API field, not a parameter of the constructor
    with pytest.raises(ValueError, match=r"elser-v2 has no task 'code.query'\. It accepts the parameters task \("):
        JinaSparseTextEmbedder(task="code.query")


# ---------------------------------------------------------------------------------------- image embedder dimensions
def test_image_embedder_takes_dimensions_too(emulator: JinaEmulator, api_key: Secret, tmp_path: Path) -> None:
    Image.new("RGB", (64, 48), "teal").save(tmp_path / "a.png")
    embedder = JinaDocumentImageEmbedder(base_url=emulator.embeddings_url, dimensions=64, progress_bar=False)
    assert embedder.embedding_dimension == embedder.dimensions == 64
    document = Document(content="teal", meta={"file_path": str(tmp_path / "a.png")})
    assert len(embedder.run([document])["documents"][0].embedding or []) == 64
    written = embedder.to_dict()["init_parameters"]
    assert written["embedding_dimension"] == 64 and "dimensions" not in written  # the published key
    assert JinaDocumentImageEmbedder.from_dict(embedder.to_dict()).embedding_dimension == 64
    assert JinaDocumentImageEmbedder(embedding_dimension=32, dimensions=32).embedding_dimension == 32
    with pytest.raises(ValueError, match="embedding_dimension=32 and dimensions=64 disagree"):
        JinaDocumentImageEmbedder(embedding_dimension=32, dimensions=64)
    with pytest.raises(ValueError, match="dimensions must be None or a whole number"):
        JinaDocumentImageEmbedder(dimensions=0)


# ---------------------------------------------------------------------------------------------- web search
def test_allowed_domains_is_sent_as_the_site_filter(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.corpus = [
        {"url": "https://example.org/pizza", "title": "Pizza", "content": "Pizza comes from Naples."},
        {"url": "https://example.com/pizza", "title": "Pizza", "content": "Pizza is round."},
    ]
    search = JinaWebSearch(base_url=emulator.search_url, allowed_domains=["example.org"])
    assert search.run("pizza")["links"] == ["https://example.org/pizza"]
    assert emulator.requests[-1].headers["X-Site"] == "example.org"
    # a site given for one search replaces it, as any init search parameter
    assert search.run("pizza", search_params={"site": "example.com"})["links"] == ["https://example.com/pizza"]
    with pytest.raises(ValueError, match="allowed_domains or search_params"):
        JinaWebSearch(allowed_domains=["a.org"], search_params={"site": "b.org"})
    with pytest.raises(ValueError, match="site"):
        JinaWebSearch(allowed_domains=[])


def test_search_params_keys_and_values_reach_the_tool_schema(api_key: Secret) -> None:
    tool = ComponentTool(JinaWebSearch(), name="web_search")
    schema = tool.parameters
    reference = schema["properties"]["search_params"]["anyOf"][0]["$ref"].rsplit("/", 1)[1]
    properties = schema["$defs"][reference]["properties"]
    assert set(properties) == {"site", "gl", "hl", "location", "page", "respond_with", "return_format", "max_tokens"}
    text = json.dumps(properties)
    assert '"no-content"' in text and '"markdown"' in text and '"integer"' in text
    with pytest.raises(ValueError, match=r"respond_with.*no-content"):
        JinaWebSearch(search_params={"respond_with": "everything"})  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="return_format"):
        JinaWebSearch(search_params={"return_format": "pdf"})  # type: ignore[typeddict-item]


def test_the_typed_return_formats_are_the_reader_table() -> None:
    # the Literal (type checker, tool schema) and the run-time check (shared with the Reader components) agree
    assert get_args(ReturnFormat) == ENUMERATED_OPTIONS["return_format"]


@pytest.mark.parametrize(
    "component",
    [
        JinaTextEmbedder,
        JinaDocumentEmbedder,
        JinaDocumentImageEmbedder,
        JinaRanker,
        lambda: JinaReaderConnector("read"),
        JinaReaderFetcher,
        JinaWebSearch,
        JinaSparseTextEmbedder,
        JinaSparseDocumentEmbedder,
        JinaReaderConverter,
        lambda: JinaDocumentClassifier(["sports", "cooking"]),
        lambda: JinaTextRouter(["sports", "cooking"]),
    ],
)
def test_tool_descriptions_are_one_short_paragraph(api_key: Secret, component: Any) -> None:
    built = component()
    description = ComponentTool(built, name="tool").description
    assert 100 < len(description) < 450, len(description)
    assert "\n\n" not in description.strip(), "one paragraph, as the README says"
    assert "```" not in description and "JINA_API_KEY" not in description
    assert "Jina" in description
