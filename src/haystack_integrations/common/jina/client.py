"""
The names this module has always offered, now at home in `http/` (see its `__init__`).

Kept so that `from haystack_integrations.common.jina.client import JinaClient, ...` keeps working.
"""

from haystack_integrations.common.jina.errors import JinaError
from haystack_integrations.common.jina.http.answer import REDIRECT_STATUS, Answer, parse_json
from haystack_integrations.common.jina.http.body import Body, JsonBody, encode_json
from haystack_integrations.common.jina.http.client import MAX_RESPONSE_BYTES, JinaClient
from haystack_integrations.common.jina.http.settings import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    RETRYABLE_STATUS,
    USER_AGENT,
    check_count,
    clean_api_key,
    resolve_api_key,
    resolve_max_retries,
    resolve_timeout,
)
from haystack_integrations.common.jina.http.transport import MAX_REDIRECTS, MockTransport, Request, Transport
from haystack_integrations.common.jina.ratelimit import MAX_RETRY_AFTER

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_REDIRECTS",
    "MAX_RESPONSE_BYTES",
    "MAX_RETRY_AFTER",
    "REDIRECT_STATUS",
    "RETRYABLE_STATUS",
    "USER_AGENT",
    "Answer",
    "Body",
    "JinaClient",
    "JinaError",
    "JsonBody",
    "MockTransport",
    "Request",
    "Transport",
    "check_count",
    "clean_api_key",
    "encode_json",
    "parse_json",
    "resolve_api_key",
    "resolve_max_retries",
    "resolve_timeout",
]
