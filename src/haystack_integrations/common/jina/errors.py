"""Exceptions raised by the Jina components.

All of them derive from `JinaError`, itself a `RuntimeError`, so code that caught the `RuntimeError`
raised by earlier versions of this package keeps working. Messages say what happened, the HTTP
status, Jina's error `code`, the endpoint, the server's `detail` and the `request_id` (what Jina's
support asks for). They never contain the API key.

Jina's error bodies are `{"detail", "code", "request_id"}` (OpenAPI `ErrorResponse`); the mapping from
status and code to exception type follows the error table of Jina's OpenAPI description.
"""

from __future__ import annotations

import copy
import time

from haystack_integrations.common.jina.redaction import redact_known


class JinaError(RuntimeError):
    """Base class of every error raised by the Jina components."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        endpoint: str | None = None,
        detail: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        retry_after_given: str | None = None,
    ) -> None:
        super().__init__(redact_known(message))  # whatever a message quotes from an answer, never a key
        self.status_code = status_code
        self.endpoint = endpoint
        self.detail = None if detail is None else redact_known(detail)
        #: Jina's machine-readable error code, e.g. `AUTHZ_INSUFFICIENT_BALANCE`, if the body had one
        self.code = code
        #: Jina's id of the failed request, if the body had one; quote it to Jina's support
        self.request_id = request_id
        #: seconds the server asked us to wait (HTTP `Retry-After`), if it did
        self.retry_after: float | None = retry_after
        #: the `Retry-After` header as the server wrote it (cut short), for messages
        self.retry_after_given = retry_after_given


class JinaAuthenticationError(JinaError):
    """The API key is missing or invalid (HTTP 401 `AUTH_*`), or not allowed to do this (other HTTP 403)."""


class JinaMissingKeyError(JinaAuthenticationError, ValueError):
    """No API key could be resolved. Also a `ValueError`, as Haystack's `Secret` raises for a missing variable."""


class JinaInvalidKeyError(JinaAuthenticationError, ValueError):
    """The API key cannot be sent as it is (a character no HTTP header can carry). The message never shows it."""


class JinaQuotaError(JinaError):
    """The account's balance is exhausted or a plan limit is reached: HTTP 403 `AUTHZ_INSUFFICIENT_BALANCE` /
    `AUTHZ_RESOURCE_LIMIT_EXCEEDED`, or HTTP 402 (the Reader's "credits exhausted")."""


class JinaRateLimitError(JinaError):
    """Still rate limited (HTTP 429) after all retries; `code` says which limit (`RATE_*`)."""


class JinaBadRequestError(JinaError, ValueError):
    """The API rejected the request (HTTP 400 `INPUT_*`, 422 validation errors, and other 4xx)."""


class JinaInputTooLongError(JinaBadRequestError):
    """
    An input is longer than the model's context (HTTP 400 `INPUT_TOKEN_LIMIT_EXCEEDED`, spec 2026.06.29).

    The API's detail does not say which input; the embedders name the documents of the request.
    """


#: "Input text exceeds the model's maximum of {max_tokens} tokens" (400)
TOKEN_LIMIT_CODE = "INPUT_TOKEN_LIMIT_EXCEEDED"


class JinaServerError(JinaError):
    """The API failed on its side (HTTP 5xx) and retries did not help."""


class JinaConnectionError(JinaError):
    """The API could not be reached or the connection broke."""

    #: The connection failed before any byte of the request was sent (refused, no route, DNS, TLS), so the
    #: server cannot have acted on it: safe to retry even a request that is not idempotent.
    before_sending: bool = False


class JinaTimeoutError(JinaConnectionError):
    """The API did not answer within `timeout` seconds."""


class JinaMalformedResponseError(JinaError):
    """The API answered 2xx, but the body is not what the endpoint promises."""


class JinaInputError(JinaError, ValueError):
    """One input (a document, a file) could not be turned into a request. Raised before any HTTP call."""


class JinaTargetError(JinaError):
    """
    The Reader answered, but the page it read (the target) answered an HTTP error, e.g. 404.

    The Reader passes such pages through with a warning; their content is the target's error page, so
    the components report them as failures instead. `target_status` is the target's status;
    `status_code` stays `None` (the Reader itself answered 200).
    """

    def __init__(self, message: str, *, endpoint: str | None = None, target_status: int | None = None) -> None:
        super().__init__(message, endpoint=endpoint)
        self.target_status = target_status


#: 403 codes that mean "pay or upgrade", not "wrong key" (Jina's OpenAPI `Forbidden` response)
QUOTA_CODES = frozenset({"AUTHZ_INSUFFICIENT_BALANCE", "AUTHZ_RESOURCE_LIMIT_EXCEEDED"})


def _classify(status_code: int, code: str | None) -> tuple[type[JinaError], str]:
    """The exception type and the sentence that opens its message."""
    if status_code == 401:
        return JinaAuthenticationError, "Jina API authentication failed (check the API key)"
    if status_code == 402 or (status_code == 403 and code == "AUTHZ_INSUFFICIENT_BALANCE"):
        return JinaQuotaError, "Jina API refused the request: the account's balance is exhausted (top up the account)"
    if status_code == 403 and code == "AUTHZ_RESOURCE_LIMIT_EXCEEDED":
        return JinaQuotaError, "Jina API refused the request: a limit of the account's plan is reached"
    if status_code == 403:
        return JinaAuthenticationError, "Jina API denied access (check the API key and its permissions)"
    if status_code == 429:
        return JinaRateLimitError, "Jina API rate limit exceeded, and retries did not help"
    if status_code == 400 and code == TOKEN_LIMIT_CODE:
        return JinaInputTooLongError, "Jina API rejected an input longer than the model's context"
    if 400 <= status_code < 500:
        return JinaBadRequestError, "Jina API rejected the request"
    return JinaServerError, "Jina API failed on its side"


def error_for_status(
    status_code: int,
    endpoint: str,
    detail: str | None,
    *,
    code: str | None = None,
    request_id: str | None = None,
    hint: str | None = None,
    retry_after: float | None = None,
    retry_after_given: str | None = None,
) -> JinaError:
    """
    Build the exception that matches an HTTP error status and Jina's error `code`; `hint` ends the message.

    `retry_after` is the wait the answer asked for in seconds, `retry_after_given` its header as written.
    """
    cls, what = _classify(status_code, code)
    message = f"{what}: HTTP {status_code}"
    if code:
        message += f" {code}"
    message += f" from {endpoint}"
    if detail:
        message += f": {detail}"
    if request_id:
        message += f" (request_id: {request_id})"
    if hint:
        message += f". {hint}"
    return cls(
        message,
        status_code=status_code,
        endpoint=endpoint,
        detail=detail,
        code=code,
        request_id=request_id,
        retry_after=retry_after,
        retry_after_given=retry_after_given,
    )


def with_hint(error: JinaError, hint: str) -> JinaError:
    """The same error (class and attributes kept) with `hint` added to its message: what to do about it."""
    hinted = copy.copy(error)
    hinted.args = (f"{error} -- {hint}",)
    return hinted


def with_prefix(error: JinaError, prefix: str) -> JinaError:
    """The same error (class and attributes kept) with `prefix` before its message: which input it is about."""
    named = copy.copy(error)
    named.args = (f"{prefix}{error}",)
    return named


def retry_clock(wait: float) -> str:
    """The UTC time `wait` seconds from now, for messages that say when to retry; "" if no clock can show it."""
    if not 0 <= wait <= 7 * 24 * 3600:  # beyond a week (or NaN) the server's figure is no time to wait for
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() + wait))
