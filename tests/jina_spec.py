"""Jina's published OpenAPI description, read from `../shared/reference/` beside the repository.

It is not part of the repository (Jina's document, not ours); where it is absent (a user's clone) the
tests that need it are skipped with the reason printed.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SPEC_NAME = "jina-openapi-2026.06.29.json"


def _find_spec() -> Path:
    """`shared/reference/` beside the clone, or beside a folder above it (a git worktree in a subfolder)."""
    candidates = [parent / "shared" / "reference" / SPEC_NAME for parent in Path(__file__).resolve().parents[1:]]
    return next((path for path in candidates if path.is_file()), candidates[0])


SPEC_PATH = _find_spec()
MISSING_REASON = f"Jina's OpenAPI description is not at {SPEC_PATH} (it is not shipped with the repository)"


@functools.cache
def load_spec() -> dict[str, Any] | None:
    if not SPEC_PATH.is_file():
        return None
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def request_mapping(spec: dict[str, Any], path: str) -> dict[str, str]:
    """Model name -> request schema name, from the endpoint's `discriminator.mapping`."""
    schema = _request_schema(spec, path)
    if "anyOf" in schema:  # /v1/classify, /v1/train: the model-discriminated requests, or one by classifier_id
        schema = next(option for option in schema["anyOf"] if "discriminator" in option)
    return {model: ref.rsplit("/", 1)[-1] for model, ref in schema["discriminator"]["mapping"].items()}


def classifier_schema(spec: dict[str, Any], path: str) -> str | None:
    """The request schema for a trained classifier (`classifier_id` instead of `model`), if the endpoint has one."""
    options = _request_schema(spec, path).get("anyOf", [])
    refs = [option["$ref"].rsplit("/", 1)[-1] for option in options if "$ref" in option]
    return refs[0] if refs else None


def _request_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return schema
