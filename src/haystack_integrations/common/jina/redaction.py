"""API keys out of error messages and logs: a message is scanned when it is made, never an answer's body.

An answer is parsed as the server sent it (rewriting it would corrupt a short key's look-alike in a
sparse index or a label). Every `JinaError` scans its message and `detail` for the keys this process
resolved (`remember_key`, called by `JinaClient.open`), so a key that a server or proxy echoed back
does not reach a message, whichever parser quoted it.
"""

from __future__ import annotations

import functools
import re
import threading
from urllib.parse import quote

#: Keys resolved in this process, most recent last; a process uses few keys, the oldest are forgotten.
_KEYS: dict[str, None] = {}
_KEYS_LOCK = threading.Lock()
_MAX_KEYS = 32
#: A run of this many key characters in a row is the key, cut or encoded.
WINDOW = 12


def remember_key(key: str) -> None:
    """
    Scan every later error message for `key`.

    A key shorter than 12 characters (a test's, never Jina's) is not: it could not be told from the words of
    a message ("k" is in "asked"). The client still scrubs it from the error details it maps (`redact`).
    """
    if len(key) < WINDOW:
        return
    with _KEYS_LOCK:
        _KEYS.pop(key, None)
        _KEYS[key] = None
        while len(_KEYS) > _MAX_KEYS:
            del _KEYS[next(iter(_KEYS))]


def redact_known(text: str) -> str:
    """`text` without any key this process resolved (see `redact`)."""
    for key in list(_KEYS):
        text = redact(text, key)
    return text


def redact(text: str, key: str | None) -> str:
    """
    `text` without `key`, whole or in part (a misbehaving proxy may echo the Authorization header).

    Any run of key characters that holds 12 characters in a row of the key, as it is, percent-encoded or with
    JSON escapes, becomes `***`: a cut or encoded copy does not slip through.
    """
    key = (key or "").removeprefix("Bearer ")
    if len(key) < WINDOW:
        return text.replace(key, "***") if key else text
    return _key_pattern(key).sub("***", text)


@functools.lru_cache(maxsize=16)
def _key_pattern(key: str) -> re.Pattern[str]:
    forms = {key, quote(key, safe=""), key.replace("_", "%5F"), key.replace("_", "\\u005f")}
    windows = {form[start : start + WINDOW] for form in forms for start in range(0, len(form) - WINDOW + 1, 4)}
    around = r"[A-Za-z0-9_%\\\-]*"
    return re.compile(around + "(?:" + "|".join(map(re.escape, sorted(windows))) + ")" + around)
