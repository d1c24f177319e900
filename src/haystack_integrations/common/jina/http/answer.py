"""
An HTTP answer, read once: status, headers and body, what it says about rate limits, and what went wrong.

Nothing here does I/O: the transport builds an `Answer`, and everything else (JSON decoding, the error a
non-2xx answer maps to, the key's redaction from what the server echoed) is read from that value.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from haystack_integrations.common.jina.endpoints import called_endpoint, not_found_hint, without_query
from haystack_integrations.common.jina.errors import (
    JinaError,
    JinaMalformedResponseError,
    error_for_status,
    retry_clock,
)
from haystack_integrations.common.jina.pacing.signals import Signals, read_signals
from haystack_integrations.common.jina.redaction import redact

REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


class Answer:
    """
    A complete HTTP answer (status, headers, body read in full), shaped like `requests.Response` for its readers.

    :param status_code: The HTTP status.
    :param headers: Case-insensitive headers.
    :param content: The (decompressed) body.
    :param url: The URL that answered.
    """

    def __init__(
        self, status_code: int, headers: Mapping[str, str], content: bytes, url: str, reason: str = ""
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url
        self.reason = reason
        self._encoding: str | None = None

    def __repr__(self) -> str:
        return f"<Answer [{self.status_code}] {without_query(self.url)}>"

    @property
    def ok(self) -> bool:
        """A 2xx (unlike `requests`, a 3xx is not: a redirect that was not followed is no answer)."""
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECT_STATUS and "Location" in self.headers

    @property
    def encoding(self) -> str:
        """The charset the `Content-Type` names, else UTF-8 (or what was set)."""
        if self._encoding is not None:
            return self._encoding
        match = re.search(r"charset=([\w.:-]+)", self.headers.get("Content-Type", ""), re.IGNORECASE)
        if match:
            try:
                return codecs.lookup(match.group(1)).name
            except LookupError:
                pass
        return "utf-8"

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @functools.cached_property
    def signals(self) -> Signals:
        """What this answer says about the key's rate limits, parsed once (for the pacer and the error mapper)."""
        return read_signals(self.status_code, self.headers, self.content)


def parse_json(response: Answer, url: str) -> Any:
    """Decode a JSON body or raise `JinaMalformedResponseError`."""
    try:
        return response.json()
    except RecursionError:
        endpoint = called_endpoint(url)
        msg = f"Jina API answered HTTP {response.status_code} from {endpoint} with JSON nested too deeply to read"
        raise JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint) from None
    except ValueError:
        endpoint = called_endpoint(url)
        snippet = response.text[:200]
        msg = f"Jina API answered HTTP {response.status_code} from {endpoint} with a body that is not JSON: {snippet!r}"
        raise JinaMalformedResponseError(msg, status_code=response.status_code, endpoint=endpoint) from None


def error_for(answer: Answer, endpoint: str, auth: str) -> JinaError:
    """The `JinaError` for a non-2xx answer (a 3xx only when not followed), its detail without the key."""
    if 300 <= answer.status_code < 400:
        location = answer.headers.get("Location")
        where = f"to {without_query(location)}" if location else "without a Location header"
        msg = f"Jina API answered HTTP {answer.status_code} from {endpoint}, a redirect {where}, not an answer"
        return JinaError(msg, status_code=answer.status_code, endpoint=endpoint)
    detail, code, request_id = _error_fields(answer)
    raw = answer.headers.get("Retry-After")
    return error_for_status(
        answer.status_code,
        endpoint,
        redact(detail, auth) if detail else None,
        code=code,
        request_id=request_id,
        # a 404 is almost always a wrong base_url: say what it should look like
        hint=not_found_hint(endpoint) if answer.status_code == 404 else None,
        retry_after=answer.signals.retry_after,
        retry_after_given=raw.strip()[:40] if raw else None,
    )


def give_up_on_long_retry_after(error: JinaError, endpoint: str, longest: float) -> None:
    """Turn a wait longer than the client sleeps (`longest`) into the error's message: when the caller may retry."""
    given = error.retry_after_given or f"{error.retry_after:.0f}"
    status = f"HTTP {error.status_code}" + (f" {error.code}" if error.code else "")
    message = (
        f"Jina API asks to wait before retrying (Retry-After: {given}), longer than the {longest:.0f} s "
        f"this client waits: {status} from {endpoint}."
    )
    clock = retry_clock(error.retry_after or 0.0)
    if clock:
        message += f" Retry after {clock}."
    if error.detail:
        message += f" Detail: {error.detail}"
    error.args = (message,)


def _error_fields(response: Answer) -> tuple[str | None, str | None, str | None]:
    """`detail`, `code` and `request_id` of an error body (Jina's `ErrorResponse` / `HTTPValidationError`)."""
    try:
        return _json_error_fields(response.json())
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested deeper than the decoder goes
        text = response.text.strip()
        return text[:500] or None, None, None


def _json_error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    if not isinstance(body, dict):
        return json.dumps(_without_echo(body))[:500], None, None
    detail = None
    for key in ("detail", "message", "readableMessage", "error"):  # the Reader says `message`
        if body.get(key):
            value = body[key]
            detail = value if isinstance(value, str) else json.dumps(_without_echo(value))[:500]
            break
    problems = _validation_errors(body.get("errors"), detail or "")
    if problems:
        detail = f"{detail}: {problems}" if detail else problems
    if detail is None:
        detail = json.dumps(_without_echo(body))[:500]
    code, request_id = body.get("code"), body.get("request_id")
    return detail, code if isinstance(code, str) else None, request_id if isinstance(request_id, str) else None


def _without_echo(value: Any, depth: int = 0) -> Any:
    """
    An error body without the server's echo of the request's inputs (a validation error's `input`, as in the
    spec's `HTTPValidationError`): the user's texts, images or training examples do not belong in a message.
    """
    if depth > 20:  # deeper than any error body: cut, not recursed into
        return "..."
    if isinstance(value, dict):
        return {key: _without_echo(item, depth + 1) for key, item in value.items() if key != "input"}
    if isinstance(value, list):
        return [_without_echo(item, depth + 1) for item in value]
    return value


def _validation_errors(errors: Any, detail: str) -> str | None:
    """A 422's `errors` list (`{"field", "message", ...}` items) as one short line, minus what `detail` says."""
    if not isinstance(errors, list):
        return None
    parts = [
        f"{item.get('field')}: {item.get('message')}" if item.get("field") else str(item.get("message"))
        for item in errors[:5]
        if isinstance(item, dict) and item.get("message") and str(item.get("message")) not in detail
    ]
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts) or None
