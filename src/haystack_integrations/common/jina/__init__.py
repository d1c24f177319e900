"""The HTTP layer shared by all Jina components: client, errors, batching, embeddings wire format."""

from haystack_integrations.common.jina.errors import (
    JinaAuthenticationError,
    JinaBadRequestError,
    JinaConnectionError,
    JinaError,
    JinaInputError,
    JinaInputTooLongError,
    JinaInvalidKeyError,
    JinaMalformedResponseError,
    JinaMissingKeyError,
    JinaQuotaError,
    JinaRateLimitError,
    JinaServerError,
    JinaTargetError,
    JinaTimeoutError,
)
from haystack_integrations.common.jina.http.client import JinaClient

__all__ = [
    "JinaAuthenticationError",
    "JinaBadRequestError",
    "JinaClient",
    "JinaConnectionError",
    "JinaError",
    "JinaInputError",
    "JinaInputTooLongError",
    "JinaInvalidKeyError",
    "JinaMalformedResponseError",
    "JinaMissingKeyError",
    "JinaQuotaError",
    "JinaRateLimitError",
    "JinaServerError",
    "JinaTargetError",
    "JinaTimeoutError",
]
