"""A client's settings: timeout, retries and the API key, each from its argument or the environment, checked."""

from __future__ import annotations

import math
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from haystack.utils import Secret

from haystack_integrations.common.jina.errors import JinaInvalidKeyError, JinaMissingKeyError

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
#: Embeddings and rerank are idempotent, so a failure on Jina's side (500 INTERNAL_ERROR, 503
#: SERVICE_UNAVAILABLE, 504 SERVICE_TIMEOUT, a gateway's 502) is worth another try, like a 429.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

try:
    _VERSION = version("jina-haystack")
except PackageNotFoundError:  # running from a source tree
    _VERSION = "unknown"
USER_AGENT = f"jina-haystack/{_VERSION}"


def resolve_timeout(timeout: float | None) -> float:
    """The explicit value, else `JINA_TIMEOUT`, else 60 seconds; a positive, finite number of seconds."""
    name, raw = ("timeout", timeout) if timeout is not None else ("JINA_TIMEOUT", os.environ.get("JINA_TIMEOUT"))
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        msg = f"{name} must be a positive number of seconds, got {raw!r}"
        raise ValueError(msg)
    return value


def resolve_max_retries(max_retries: int | None) -> int:
    """The explicit value, else `JINA_MAX_RETRIES`, else 5; a whole number >= 0."""
    raw: float | str | None = max_retries
    name = "max_retries"
    if raw is None:
        name, raw = "JINA_MAX_RETRIES", os.environ.get("JINA_MAX_RETRIES")
    if raw is None:
        return DEFAULT_MAX_RETRIES
    try:
        if isinstance(raw, float) and raw.is_integer():  # 2.0 from a YAML or JSON file
            raw = int(raw)
        value = int(raw) if not isinstance(raw, bool | float) else -1
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        msg = f"{name} must be a whole number >= 0, got {raw!r}"
        raise ValueError(msg)
    return value


def clean_api_key(value: str) -> str:
    """
    The key without surrounding whitespace (a key file's trailing newline), checked to fit in a header.

    :raises JinaInvalidKeyError: The key has a character no HTTP header can carry. The message says where,
        never what the key is.
    """
    key = value.strip()
    for position, character in enumerate(key, start=1):
        if not 0x21 <= ord(character) <= 0x7E:  # Jina keys are printable ASCII without spaces
            msg = (
                f"The Jina API key has a character that cannot be sent in an HTTP header (character {position} "
                f"of {len(key)}: a space, control or non-ASCII character). Check the key for stray quotes, "
                "spaces or line breaks."
            )
            raise JinaInvalidKeyError(msg)
    return key


def resolve_api_key(api_key: Secret) -> str:
    """Resolve the Secret (at `JinaClient.open`); a missing key raises `JinaMissingKeyError` naming the variable."""
    try:
        value = api_key.resolve_value()
    except ValueError:
        value = None
    if isinstance(value, str):
        value = clean_api_key(value)
    if not value:
        env_vars = getattr(api_key, "_env_vars", None) or getattr(api_key, "env_vars", None)
        where = f"set the environment variable {' or '.join(env_vars)}" if env_vars else "pass a non-empty key"
        msg = f"No Jina API key found: {where}, or pass api_key=Secret.from_env_var(...)."
        raise JinaMissingKeyError(msg)
    return str(value)


def check_count(value: Any, name: str) -> int | None:
    """`None` or a whole number >= 1 (an integral float from YAML becomes an int); else `ValueError` naming `name`."""
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{name} must be None or a whole number >= 1, got {value!r}"
        raise ValueError(msg)
    return value
