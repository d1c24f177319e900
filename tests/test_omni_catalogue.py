"""The 2026.06.29 catalogue: v5-omni, jina-reranker-v3.5, per-model `dimensions`, INPUT_TOKEN_LIMIT_EXCEEDED, usage."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina import JinaInputTooLongError
from haystack_integrations.common.jina.models import EMBEDDING_MODELS, RERANK_MODELS, check_embedding_model
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.components.rankers.jina import JinaRanker
from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.documents import mp4_clip, text_pdf, wav_clip


def post(emulator: JinaEmulator, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    return requests.post(emulator.embeddings_url, json=body, headers=headers, timeout=10)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_dimensions_stop_at_each_models_own_size() -> None:
    assert EMBEDDING_MODELS["jina-embeddings-v5-text-nano"].dimensions == range(1, 769)
    assert EMBEDDING_MODELS["jina-embeddings-v5-omni-nano"].dimensions == range(1, 769)
    assert EMBEDDING_MODELS["jina-embeddings-v5-omni-small"].dimensions == range(1, 1025)
    with pytest.raises(ValueError, match=r"cannot give 1024 dimensions .*\(1 to 768\)"):
        JinaTextEmbedder(model="jina-embeddings-v5-text-nano", dimensions=1024)
    check_embedding_model("jina-embeddings-v5-text-nano", {"dimensions": 768})


def test_omni_models_work_for_text_without_a_did_you_mean(
    emulator: JinaEmulator, api_key: Secret, caplog: pytest.LogCaptureFixture
) -> None:
    omni = JinaTextEmbedder(api_key=api_key, model="jina-embeddings-v5-omni-small", base_url=emulator.embeddings_url)
    text = JinaTextEmbedder(api_key=api_key, model="jina-embeddings-v5-text-small", base_url=emulator.embeddings_url)
    assert "did you mean" not in caplog.text
    # "text inputs give exactly the vectors of the matching v5-text model": no reindexing for omni queries
    assert omni.run("a red bicycle")["embedding"] == text.run("a red bicycle")["embedding"]


def test_jina_reranker_v3_5_is_known_and_answered(emulator: JinaEmulator, api_key: Secret) -> None:
    assert RERANK_MODELS["jina-reranker-v3.5"].fields == RERANK_MODELS["jina-reranker-v3"].fields
    ranker = JinaRanker(api_key=api_key, model="jina-reranker-v3.5", base_url=emulator.rerank_url, max_doc_length=512)
    ranked = ranker.run("pizza", [Document(content="pasta"), Document(content="pizza dough")])["documents"]
    assert ranked[0].content == "pizza dough"


def test_an_over_long_text_is_a_typed_error_naming_the_document(emulator: JinaEmulator, api_key: Secret) -> None:
    long = Document(content="word " * 9000)
    documents = [Document(content="short"), long]
    embedder = JinaDocumentEmbedder(
        api_key=api_key, model="jina-embeddings-v5-text-nano", base_url=emulator.embeddings_url, progress_bar=False
    )
    with pytest.raises(JinaInputTooLongError, match="truncate=True") as raised:
        embedder.run(documents)
    assert raised.value.code == "INPUT_TOKEN_LIMIT_EXCEEDED" and raised.value.status_code == 400
    assert f"Document {long.id} is the longest" in str(raised.value)
    lenient = JinaDocumentEmbedder(
        api_key=api_key,
        model="jina-embeddings-v5-text-nano",
        base_url=emulator.embeddings_url,
        progress_bar=False,
        raise_on_failure=False,
    )
    result = lenient.run(documents)  # the batch is split (issue 28): only the long document fails
    (failed,) = result["meta"]["failed_documents"]
    assert failed["id"] == long.id and "INPUT_TOKEN_LIMIT_EXCEEDED" in failed["error"]
    assert f"Document {long.id} is the longest" in failed["error"]
    assert result["documents"][0].embedding is not None


def test_emulator_omni_vectors_groups_and_usage(emulator: JinaEmulator) -> None:
    clip, video = b64(wav_clip("rain on a tin roof")), b64(mp4_clip("a dog running on the beach"))
    body = {
        "model": "jina-embeddings-v5-omni-nano",
        "input": ["rain", {"audio": clip}, {"video": video}, {"content": [{"text": "rain"}, {"audio": clip}]}],
        "dimensions": 64,
    }
    answer = post(emulator, body).json()
    again = post(emulator, body).json()
    assert [d["embedding"] for d in answer["data"]] == [d["embedding"] for d in again["data"]]  # deterministic
    usage = answer["usage"]
    assert usage["audio_tokens"] > 0 and usage["video_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["audio_tokens"] + usage["video_tokens"]
    # order inside a group matters
    swapped = {**body, "input": [{"content": [{"audio": clip}, {"text": "rain"}]}]}
    assert post(emulator, swapped).json()["data"][0]["embedding"] != answer["data"][3]["embedding"]


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_emulator_refuses_pdfs_in_lists_and_groups_and_media_for_text_models(emulator: JinaEmulator) -> None:
    pdf = b64(text_pdf(["page"]))
    in_group = post(emulator, {"model": "jina-embeddings-v5-omni-small", "input": [{"content": [{"pdf": pdf}]}]})
    assert in_group.status_code == 422 and "standalone" in in_group.json()["detail"]
    in_list = post(emulator, {"model": "jina-embeddings-v5-omni-small", "input": [{"pdf": pdf}, "x"]})
    assert in_list.status_code == 422
    alone = post(emulator, {"model": "jina-embeddings-v5-omni-small", "input": {"pdf": pdf}})
    assert alone.status_code == 200 and alone.json()["usage"]["image_tokens"] > 0
    text_only = post(emulator, {"model": "jina-embeddings-v5-text-small", "input": [{"audio": b64(wav_clip())}]})
    assert text_only.status_code == 422 and "jina-embeddings-v5-omni-small" in text_only.json()["detail"]


def test_a_groups_tokens_count_in_each_chunks_field(emulator: JinaEmulator) -> None:
    clip = b64(wav_clip("rain"))
    alone = post(emulator, {"model": "jina-embeddings-v5-omni-nano", "input": ["rain", {"audio": clip}]}).json()
    group = {"content": [{"text": "rain"}, {"audio": clip}]}
    fused = post(emulator, {"model": "jina-embeddings-v5-omni-nano", "input": [group]}).json()
    assert fused["usage"] == alone["usage"]  # the same chunks: prompt and audio tokens as when sent apart
