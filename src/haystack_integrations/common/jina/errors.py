"""Exceptions raised by the Jina components.

All of them derive from `JinaError`, itself a `RuntimeError`, so code that caught the `RuntimeError`
raised by earlier versions of this package keeps working. Messages say what happened, the HTTP
status, the server's `detail` and the endpoint. They never contain the API key.
"""

from __future__ import annotations


class JinaError(RuntimeError):
    """Base class of every error raised by the Jina components."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        endpoint: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.endpoint = endpoint
        self.detail = detail
        #: seconds the server asked us to wait (HTTP `Retry-After`), if it did
        self.retry_after: float | None = None


class JinaAuthenticationError(JinaError):
    """The API key is missing, invalid, or not allowed to use this endpoint (HTTP 401 / 403)."""


class JinaMissingKeyError(JinaAuthenticationError, ValueError):
    """No API key could be resolved. Also a `ValueError`, as Haystack's `Secret` raises for a missing variable."""


class JinaInvalidKeyError(JinaAuthenticationError, ValueError):
    """The API key cannot be sent as it is (a character no HTTP header can carry). The message never shows it."""


class JinaQuotaError(JinaError):
    """The account's token balance is exhausted (HTTP 402)."""


class JinaRateLimitError(JinaError):
    """Still rate limited (HTTP 429) after all retries."""


class JinaBadRequestError(JinaError, ValueError):
    """The API rejected the request body (HTTP 400 / 422 and other 4xx)."""


class JinaServerError(JinaError):
    """The API failed on its side (HTTP 5xx) and retries did not help."""


class JinaConnectionError(JinaError):
    """The API could not be reached or the connection broke."""


class JinaTimeoutError(JinaConnectionError):
    """The API did not answer within `timeout` seconds."""


class JinaMalformedResponseError(JinaError):
    """The API answered 2xx, but the body is not what the endpoint promises."""


class JinaInputError(JinaError, ValueError):
    """One input (a document, a file) could not be turned into a request. Raised before any HTTP call."""


def error_for_status(status_code: int, endpoint: str, detail: str | None) -> JinaError:
    """Build the exception that matches an HTTP error status."""
    cls: type[JinaError]
    if status_code in (401, 403):
        cls, what = JinaAuthenticationError, "authentication failed (check the API key)"
    elif status_code == 402:
        cls, what = JinaQuotaError, "the account's balance is exhausted"
    elif status_code == 429:
        cls, what = JinaRateLimitError, "rate limited, retries exhausted"
    elif 400 <= status_code < 500:
        cls, what = JinaBadRequestError, "the request was rejected"
    else:
        cls, what = JinaServerError, "server error"
    message = f"Jina API {what}: HTTP {status_code} from {endpoint}"
    if detail:
        message += f": {detail}"
    return cls(message, status_code=status_code, endpoint=endpoint, detail=detail)
