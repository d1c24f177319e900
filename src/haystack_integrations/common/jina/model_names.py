"""Near misses of known model names: "did you mean ..." at construction instead of an error at the first request.

A name the catalogue does not know must still pass (a model Jina adds tomorrow works), so only a
typo of a known name is refused: the same version numbers, and nearly the same letters
(`jina-embedding-v3`, `Jina-Embeddings-V3`, `jina-reranker-v2-base-multilingal`). A name whose numbers
differ (`jina-embeddings-v6`, `jina-clip-v3`) is a different model, not a typo, and passes; so does a
longer variant (`jina-embeddings-v3-small`). A weaker resemblance passes with a warning that names
the closest known model.

A Hugging Face id (`jinaai/jina-embeddings-v3`) is judged by its name without the organisation, and the
API's name of a known model is suggested. A name that differs from a known one only in a language code
(`jina-embeddings-v2-base-fr` beside `-zh`) is another language, never a typo of that one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

#: Similarity (difflib ratio, case-insensitive) from which a name with a known model's numbers is a typo.
TYPO_RATIO = 0.9
#: A typo changes a few characters, not a word.
TYPO_MAX_LENGTH_CHANGE = 3
#: Similarity from which the closest known model is named in a warning.
HINT_RATIO = 0.8


def _numbers(name: str) -> list[str]:
    return re.findall(r"\d+", name)


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _other_language(model: str, name: str) -> bool:
    """
    Whether `model` differs from `name` in a word that is a language code (`-fr` against `-zh` or `-code`):
    a model for another language (maybe one Jina does not publish), not a typo of this one.
    """
    words, other = model.lower().split("-"), name.lower().split("-")
    return len(words) == len(other) and any(
        word != known and len(word) == 2 and word.isalpha() for word, known in zip(words, other, strict=True)
    )


def closest_known(model: str, known: Iterable[str]) -> tuple[str | None, bool]:
    """
    The known name `model` most resembles, with the same version numbers, and whether it is a typo of it.

    :returns: `(None, False)` when no known name is close; `(name, True)` for a typo (refuse it);
        `(name, False)` for a weaker resemblance (mention it).
    """
    stripped = model.strip()
    if "/" in stripped:  # a Hugging Face id, `jinaai/<name>`: the API knows the model by its name alone
        stripped = stripped.rsplit("/", 1)[1]
        known = list(known)
        exact = next((name for name in known if name.lower() == stripped.lower()), None)
        if exact is not None:
            return exact, True
    candidates = [
        name for name in known if _numbers(name) == _numbers(stripped) and not _other_language(stripped, name)
    ]
    scored = sorted(((_ratio(stripped, name), name) for name in candidates), reverse=True)
    if not scored or scored[0][0] < HINT_RATIO:
        return None, False
    ratio, name = scored[0]
    typo = stripped.lower() == name.lower() or (
        ratio >= TYPO_RATIO and abs(len(stripped) - len(name)) <= TYPO_MAX_LENGTH_CHANGE
    )
    return name, typo
