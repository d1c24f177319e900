"""Spec conformance: every body the suite sends to `/v1/embeddings`, `/v1/rerank`, `/v1/classify` and
`/v1/train` is checked against the request schema Jina's OpenAPI description gives its model
(`discriminator.mapping` on `model`), or, for a body with a `classifier_id` (few-shot classification, a
training update), against the endpoint's schema for a trained classifier; a `/v1/batch/embeddings` body
against `BatchEmbeddingRequest`.

`JinaEmulator.handle` is wrapped for the whole session, so every in-process emulator (the shared one and
those tests start themselves) reports what it receives. After each test its bodies are validated with
`jsonschema`, plus one rule stricter than the schemas, which do not forbid extra fields: no field the
model's schema does not list (the API ignores such a field, so the request would silently not do what
its author meant). A test that sends such bodies on purpose (to test the emulator's validation, say)
is marked `@pytest.mark.nonconforming`.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from jina_spec import classifier_schema, load_spec, request_mapping

from haystack_integrations.common.jina.models import NOT_IN_SPEC
from haystack_integrations.testing.jina import JinaEmulator, RecordedRequest

CHECKED_PATHS = ("/v1/embeddings", "/v1/rerank", "/v1/classify", "/v1/train", "/v1/batch/embeddings")
#: paths with one request schema (no discriminator): its `model` enum lists the models
SINGLE_SCHEMA = {"/v1/batch/embeddings": "BatchEmbeddingRequest"}
#: the key under which a path's schema for a trained classifier is kept (bodies with a `classifier_id`)
BY_CLASSIFIER = "<classifier_id>"


@functools.cache
def _validators() -> dict[str, dict[str, Any]]:
    """Per path: model name -> (jsonschema validator, the schema's property names)."""
    from jsonschema import Draft202012Validator

    spec = load_spec()
    assert spec is not None

    def validator(name: str) -> tuple[Any, set[str], str]:
        root = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        return Draft202012Validator(root), set(spec["components"]["schemas"][name]["properties"]), name

    result: dict[str, dict[str, Any]] = {}
    for path, name in SINGLE_SCHEMA.items():
        models = spec["components"]["schemas"][name]["properties"]["model"]["enum"]
        result[path] = dict.fromkeys(models, validator(name))
    for path in CHECKED_PATHS:
        if path in SINGLE_SCHEMA:
            continue
        result[path] = {model: validator(name) for model, name in request_mapping(spec, path).items()}
        by_classifier = classifier_schema(spec, path)
        if by_classifier is not None:
            result[path][BY_CLASSIFIER] = validator(by_classifier)
    return result


def problems_of(path: str, body: bytes) -> list[str]:
    """What is wrong with one request body against the spec; empty when it conforms."""
    try:
        payload = json.loads(body)
    except ValueError:
        return [f"{path}: the body is not JSON"]
    if not isinstance(payload, dict):
        return [f"{path}: the body is not a JSON object"]
    models = _validators()[path]
    model = BY_CLASSIFIER if BY_CLASSIFIER in models and "classifier_id" in payload else payload.get("model")
    if isinstance(model, str) and model in NOT_IN_SPEC:  # checked against the schema of the model it stands in for
        model = payload["model"] = NOT_IN_SPEC[model]
    if model not in models:
        return [f"{path}: model {model!r} is not in the spec's discriminator mapping"]
    validator, properties, schema = models[model]
    found = [
        f"{path} ({schema}): {'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message[:300]}"
        for error in validator.iter_errors(payload)
    ]
    found += [
        f"{path} ({schema}): field {key!r} is not in the model's schema" for key in sorted(set(payload) - properties)
    ]
    return found


class Recorder:
    """Bodies sent to the checked paths during one test."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, request: RecordedRequest) -> None:
        if request.method == "POST" and request.path.split("?", 1)[0] in CHECKED_PATHS:
            with self._lock:
                self.requests.append(request)

    def problems(self) -> list[str]:
        with self._lock:
            requests = list(self.requests)
        return [problem for r in requests for problem in problems_of(r.path.split("?", 1)[0], r.body)]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def assert_conforming(self) -> None:
        problems = self.problems()
        if problems:
            shown = "\n  ".join(problems[:10])
            more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
            pytest.fail(f"{len(problems)} request(s) do not conform to Jina's OpenAPI spec:\n  {shown}{more}")


_current: list[Recorder] = []


@contextmanager
def recording_emulators() -> Iterator[None]:
    """Wrap `JinaEmulator.handle` so every in-process emulator reports to the current `Recorder`."""
    original = JinaEmulator.handle

    def handle(self: JinaEmulator, request: RecordedRequest) -> Any:
        if _current:
            _current[-1].add(request)
        return original(self, request)

    JinaEmulator.handle = handle  # type: ignore[method-assign]
    try:
        yield
    finally:
        JinaEmulator.handle = original  # type: ignore[method-assign]


@contextmanager
def recorder() -> Iterator[Recorder]:
    current = Recorder()
    _current.append(current)
    try:
        yield current
    finally:
        _current.remove(current)
