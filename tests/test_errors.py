"""Jina's error table (OpenAPI `ErrorResponse` codes), over HTTP against the emulator."""

from __future__ import annotations

import inspect
import re

import pytest
import requests
from haystack.utils import Secret

from haystack_integrations.common.jina import ratelimit
from haystack_integrations.common.jina.client import RETRYABLE_STATUS, JinaClient
from haystack_integrations.common.jina.errors import (
    JinaAuthenticationError,
    JinaBadRequestError,
    JinaError,
    JinaQuotaError,
    JinaRateLimitError,
    JinaServerError,
)
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

BODY = {"model": "jina-embeddings-v3", "input": ["hello"]}


def post(api_key: Secret, url: str, max_retries: int = 2) -> JinaError:
    with pytest.raises(JinaError) as info:
        JinaClient(api_key, max_retries=max_retries).post_json(url, BODY)
    return info.value


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (401, "AUTH_MISSING_API_KEY", JinaAuthenticationError),
        (401, "AUTH_INVALID_API_KEY", JinaAuthenticationError),
        (401, "AUTH_INVALID_FORMAT", JinaAuthenticationError),
        (403, "AUTHZ_INSUFFICIENT_BALANCE", JinaQuotaError),
        (403, "AUTHZ_RESOURCE_LIMIT_EXCEEDED", JinaQuotaError),
        (403, "AUTHZ_SOMETHING_ELSE", JinaAuthenticationError),
        (402, "", JinaQuotaError),  # the Reader's "credits exhausted"; no code
        (400, "INPUT_MODEL_NOT_FOUND", JinaBadRequestError),
        (400, "INPUT_INVALID_LABELS", JinaBadRequestError),
        (404, "RESOURCE_NOT_FOUND", JinaBadRequestError),
        (409, "CONFLICT_RESOURCE_BUSY", JinaBadRequestError),
    ],
)
def test_status_and_code_map_to_the_error_type_without_retry(
    emulator: JinaEmulator, api_key: Secret, status: int, code: str, error_type: type[JinaError]
) -> None:
    emulator.inject("status", status=status, code=code or None, detail="the server says why")
    error = post(api_key, emulator.embeddings_url)
    assert type(error) is error_type
    assert len(emulator.requests) == 1  # not retried
    assert (error.status_code, error.detail) == (status, "the server says why")
    assert error.code == (code or None)
    assert error.request_id and len(error.request_id) == 16
    message = str(error)
    assert f"HTTP {status}" in message and code in message and error.request_id in message
    assert "the server says why" in message and emulator.embeddings_url in message


def test_exhausted_balance_says_so_instead_of_blaming_the_key(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("balance")
    error = post(api_key, emulator.embeddings_url)
    assert isinstance(error, JinaQuotaError) and not isinstance(error, JinaAuthenticationError)
    assert error.status_code == 403 and error.code == "AUTHZ_INSUFFICIENT_BALANCE"
    assert "balance is exhausted" in str(error) and "API key" not in str(error)


@pytest.mark.parametrize(
    "code",
    [
        "RATE_REQUEST_LIMIT_EXCEEDED",
        "RATE_TOKEN_LIMIT_EXCEEDED",
        "RATE_CONCURRENCY_LIMIT_EXCEEDED",
        "RATE_IP_LIMIT_EXCEEDED",
    ],
)
def test_rate_limit_codes_are_retried_then_carried(
    emulator: JinaEmulator, api_key: Secret, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal for a limit of the key is retried without spending an attempt until the key makes no progress
    for two windows (shortened here); then the error names the limit, how long, and that others may share it."""
    monkeypatch.setenv("JINA_RATE_WINDOW", "1.0")
    emulator.inject("status", status=429, code=code, times=10_000, retry_after=0)
    error = post(api_key, emulator.embeddings_url, max_retries=2)
    assert isinstance(error, JinaRateLimitError)
    assert error.code == code and code in str(error)
    if code == "RATE_IP_LIMIT_EXCEEDED":  # not a limit of the key: it spends the retry budget
        assert len(emulator.requests) == 3
        return
    assert len(emulator.requests) > 3  # more than max_retries + 1: refusals are flow control
    message = str(error)
    limit = {"RATE_REQUEST_LIMIT_EXCEEDED": "requests", "RATE_TOKEN_LIMIT_EXCEEDED": "tokens"}.get(code, "concurrency")
    assert f"the key's {limit} limit" in message and "succeeded for" in message and "share the key" in message


@pytest.mark.parametrize(
    ("status", "code"), [(500, "INTERNAL_ERROR"), (502, None), (503, "SERVICE_UNAVAILABLE"), (504, "SERVICE_TIMEOUT")]
)
def test_server_errors_are_retried_then_carry_code_and_request_id(
    emulator: JinaEmulator, api_key: Secret, status: int, code: str | None
) -> None:
    emulator.inject("status", status=status, times=10)
    error = post(api_key, emulator.embeddings_url, max_retries=2)
    assert isinstance(error, JinaServerError)
    assert len(emulator.requests) == 3
    assert error.code == code and error.request_id and error.request_id in str(error)


def test_a_transient_server_error_heals_on_retry(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=500, code="INTERNAL_ERROR")
    body = JinaClient(api_key, max_retries=1).post_json(emulator.embeddings_url, BODY)
    assert len(body["data"]) == 1 and len(emulator.requests) == 2


def test_message_reads_as_a_sentence(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=400, code="INPUT_MODEL_NOT_FOUND", detail="Model 'x' not found")
    error = post(api_key, emulator.embeddings_url)
    expected = (
        f"Jina API rejected the request: HTTP 400 INPUT_MODEL_NOT_FOUND from {emulator.embeddings_url}: "
        f"Model 'x' not found (request_id: {error.request_id})"
    )
    assert str(error) == expected


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "AUTH_MISSING_API_KEY"), ("Token abc", "AUTH_INVALID_FORMAT"), ("Bearer wrong", "AUTH_INVALID_API_KEY")],
)
def test_emulator_answers_auth_failures_with_jina_codes(emulator: JinaEmulator, header: str | None, code: str) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = requests.post(emulator.embeddings_url, json=BODY, headers=headers, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and len(body["request_id"]) == 16


def test_wrong_key_carries_the_code(emulator: JinaEmulator) -> None:
    error = post(Secret.from_token("jina_wrong"), emulator.embeddings_url)
    assert isinstance(error, JinaAuthenticationError) and error.code == "AUTH_INVALID_API_KEY"
    assert "jina_wrong" not in str(error)


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_validation_errors_have_the_http_validation_error_shape(emulator: JinaEmulator, api_key: Secret) -> None:
    body = {**BODY, "truncate": "yes"}
    response = requests.post(
        emulator.embeddings_url, json=body, headers={"Authorization": f"Bearer {emulator.api_key}"}, timeout=10
    )
    assert response.status_code == 422
    answer = response.json()
    assert isinstance(answer["detail"], str) and "truncate" in answer["detail"]
    (problem,) = answer["errors"]
    assert set(problem) >= {"field", "message", "type"}
    with pytest.raises(JinaBadRequestError, match="truncate") as info:
        JinaClient(api_key).post_json(emulator.embeddings_url, body)
    assert str(info.value).count("must be a boolean") == 1  # `errors` does not repeat the detail


@pytest.mark.nonconforming  # sends bodies that break the spec on purpose
def test_validation_error_items_join_the_message(emulator: JinaEmulator, api_key: Secret) -> None:
    """A 422 whose `detail` is generic: the `errors` items say what is wrong."""
    from haystack_integrations.testing.jina import server

    original = server.error_body

    def generic(status: int, detail: str, code: str | None = None, field: str = "body") -> dict[str, object]:
        body = original(status, detail, code, field)
        if status == 422:
            body["detail"] = "Validation error"
        return body

    try:
        server.error_body = generic  # type: ignore[assignment]
        with pytest.raises(JinaBadRequestError) as info:
            JinaClient(api_key).post_json(emulator.embeddings_url, {**BODY, "truncate": "yes"})
    finally:
        server.error_body = original  # type: ignore[assignment]
    assert "Validation error: " in str(info.value) and "must be a boolean" in str(info.value)


def test_answers_carry_rate_limit_headers(emulator: JinaEmulator, api_key: Secret) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    first = requests.post(emulator.embeddings_url, json=BODY, headers=headers, timeout=10)
    second = requests.post(emulator.embeddings_url, json=BODY, headers=headers, timeout=10)
    tokens = second.json()["usage"]["total_tokens"]
    assert int(first.headers["X-RateLimit-Remaining-Requests"]) == emulator.rpm_limit - 1
    assert int(second.headers["X-RateLimit-Remaining-Requests"]) == emulator.rpm_limit - 2
    assert int(second.headers["X-RateLimit-Remaining-Tokens"]) == emulator.tpm_limit - 2 * tokens


def test_default_concurrency_is_not_stated_and_the_key_starts_at_the_free_tiers_limit() -> None:
    """Every component that sends requests has `max_concurrency`; unset, it follows the key (5 to start)."""
    components = (JinaTextEmbedder, JinaDocumentEmbedder, JinaDocumentImageEmbedder, JinaRanker)
    for component in components:
        assert inspect.signature(component.__init__).parameters["max_concurrency"].default is None
    assert ratelimit.START_CONCURRENCY == 5 == ratelimit.TIERS["free"].concurrency


COMPONENTS = [
    JinaTextEmbedder,
    JinaDocumentEmbedder,
    JinaDocumentImageEmbedder,
    JinaRanker,
    JinaReaderConnector,
    JinaReaderFetcher,
    JinaWebSearch,
    JinaSparseTextEmbedder,
    JinaSparseDocumentEmbedder,
    JinaReaderConverter,
    JinaDocumentClassifier,
    JinaTextRouter,
    JinaBatchDocumentEmbedder,
]


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_max_retries_docstring_lists_the_statuses_retried(component: type) -> None:
    doc = inspect.getdoc(component.__init__) or ""
    line = next(line for line in doc.splitlines() if line.startswith(":param max_retries:"))
    assert "rate limits" in line  # 429
    assert {int(code) for code in re.findall(r"\b5\d\d\b", line)} == RETRYABLE_STATUS - {429}


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUS))
def test_every_status_the_docstrings_name_is_retried(status: int, emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=status, retry_after=0.01 if status == 429 else None)
    assert JinaWebSearch(api_key=api_key, base_url=emulator.search_url, max_retries=1).run("pizza") is not None
    assert len(emulator.requests) == 2
