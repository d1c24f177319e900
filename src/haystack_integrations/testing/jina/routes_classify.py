"""`POST /v1/classify`, `POST /v1/train`, `GET|POST /v1/classifiers` and `DELETE /v1/classifiers/<id>`.

Zero-shot: each input's vector (the emulator's embedding vectors for the model) is compared with each
label's vector by cosine; a softmax over the labels gives the scores. Few-shot: a trained classifier keeps,
per label, the sum of its examples' unit vectors, and an input is scored by its cosine to each label's
centroid, softmaxed the same way. Deterministic, and lexical like the other routes: a text that shares
words with a label (or with a label's examples) gets that label.

Limits and codes from Jina's OpenAPI: at most 512 inputs, labels as a list of at most 512 or at most 8
groups of at most 64 (`INPUT_LABEL_LIMIT_EXCEEDED`, 400, beyond); training takes 2 to 512 items with at
least 2 distinct labels (`INPUT_INVALID_LABELS`, 400), `access` defaults to `public`; the tag description
limits few-shot to 16 classes and 16 classifiers per key (400 `INPUT_LABEL_LIMIT_EXCEEDED` / 403
`AUTHZ_RESOURCE_LIMIT_EXCEEDED`); an unknown (or someone else's private) classifier is 404
`RESOURCE_NOT_FOUND`. Assumed where the spec is silent, and stricter than it on purpose: a field the
schema does not list, an empty text, duplicate labels and `num_iters` < 1 are answered with 422; a public
classifier may be used by any key but updated, listed and deleted only by its owner.
"""

from __future__ import annotations

import math
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from haystack_integrations.common.jina.classification import (
    ACCESS_LEVELS,
    CLASSIFY_MODELS,
    MAX_INPUTS_PER_REQUEST,
    MAX_LABEL_GROUPS,
    MAX_LABELS,
    MAX_LABELS_PER_GROUP,
    MAX_TRAINING_EXAMPLES,
    MIN_TRAINING_EXAMPLES,
    ClassifyModel,
    check_labels,
)
from haystack_integrations.common.jina.models import EMBEDDING_MODELS
from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

#: Softmax temperature over cosines: a clear lexical match gets most of the probability.
TEMPERATURE = 0.1
#: From the spec's tag description: "Limited to 16 classes and 16 classifiers per API key".
MAX_FEW_SHOT_LABELS = 16
MAX_CLASSIFIERS_PER_KEY = 16
DEFAULT_NUM_ITERS = 10


@dataclass
class Classifier:
    """A few-shot classifier: per label the sum of its examples' unit vectors."""

    classifier_id: str
    owner: str
    model: str
    access: str
    sums: dict[str, list[float]] = field(default_factory=dict)  # label -> sum, in the order labels appeared
    created_at: str = ""
    updated_at: str = ""
    updated_number: int = 0
    used_number: int = 0
    used_at: str | None = None

    def summary(self) -> dict[str, Any]:
        """`ClassifierSummary`; `user_id` is derived from the key, never the key itself."""
        return {
            "classifier_id": self.classifier_id,
            "user_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"jina-emulator-user:{self.owner}")),
            "model": self.model,
            "labels": list(self.sums),
            "access": self.access,
            "updated_number": self.updated_number,
            "used_number": self.used_number,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "used_at": self.used_at,
            "is_active": True,
            "is_latest": True,
            "metadata_": {},
        }


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.classifiers: dict[str, Classifier] = {}


_stores: weakref.WeakKeyDictionary[JinaEmulator, _Store] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def classifiers_of(emulator: JinaEmulator) -> dict[str, Classifier]:
    """The classifiers trained on this emulator, by id (for tests to look at)."""
    return _store(emulator).classifiers


def _store(emulator: JinaEmulator) -> _Store:
    with _stores_lock:
        return _stores.setdefault(emulator, _Store())


def _key(request: RecordedRequest) -> str:
    header = request.header("Authorization") or ""
    return header[7:].strip() if header.startswith("Bearer ") else ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _check_fields(body: dict[str, Any], allowed: tuple[str, ...], schema: str) -> None:
    for key in body:
        if key not in allowed:
            raise ApiError(422, f"{schema} has no field {key!r}; it accepts: {', '.join(allowed)}.", field=key)


def _model(name: Any, *, training: bool = False) -> ClassifyModel:
    known = CLASSIFY_MODELS.get(name) if isinstance(name, str) else None
    if known is None or (training and not known.trainable):
        able = [m for m, spec in CLASSIFY_MODELS.items() if spec.trainable or not training]
        detail = f"Model {name!r} not found. Available models: {', '.join(able)}."
        raise ApiError(400, detail, code="INPUT_MODEL_NOT_FOUND")
    return known


def _vector(model: str, item: Any, where: str, *, images: bool) -> tuple[list[float], int]:
    """The unit vector and token count of a text, `{"text"}` or (where allowed) `{"image"}` input."""
    dimensions = EMBEDDING_MODELS[model].native_dimensions
    if isinstance(item, dict) and set(item) == {"text"}:
        item = item["text"]
    if isinstance(item, str):
        if not item.strip():
            raise ApiError(422, f"{where} is an empty string.", field=where)
        multimodal = EMBEDDING_MODELS[model].images
        return vectors.normalize(vectors.text_vector(item, dimensions, multimodal=multimodal)), len(
            vectors.tokens(item)
        )
    if isinstance(item, dict) and set(item) == {"image"}:
        if not images:
            raise ApiError(422, f"{where} is an image, and this request takes text only.", field=where)
        from haystack_integrations.testing.jina import images as image_vectors

        # the image's errors name its input (`input[k]`), as the text's do (`input.k`)
        array, _, index = where.rpartition(".")
        vector, tokens = image_vectors.image_vector(item["image"], int(index), dimensions, array=array)
        return vectors.normalize(vector), tokens
    kinds = "a string, {'text': ...} or {'image': ...}" if images else "a string or {'text': ...}"
    raise ApiError(422, f"{where} must be {kinds}.", field=where)


def _inputs(body: dict[str, Any]) -> list[Any]:
    inputs = body.get("input")
    if isinstance(inputs, str | dict):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(422, "input must be a string, a document or a non-empty list.", field="input")
    if len(inputs) > MAX_INPUTS_PER_REQUEST:
        raise ApiError(422, f"input has {len(inputs)} items; at most {MAX_INPUTS_PER_REQUEST} are allowed.")
    return inputs


def _check_label_limits(labels: Any) -> None:
    """The count limits, answered as the API's `INPUT_LABEL_LIMIT_EXCEEDED`; the shape is checked after."""
    counts: list[tuple[int, int, str]] = []
    if isinstance(labels, dict):
        counts.append((len(labels), MAX_LABEL_GROUPS, "label groups"))
        counts += [
            (len(v), MAX_LABELS_PER_GROUP, f"labels in group {k!r}") for k, v in labels.items() if isinstance(v, list)
        ]
    elif isinstance(labels, list):
        counts.append((len(labels), MAX_LABELS, "labels"))
    for count, limit, what in counts:
        if count > limit:
            detail = f"Label limit exceeded: {count} {what} provided, maximum {limit} allowed."
            raise ApiError(400, detail, code="INPUT_LABEL_LIMIT_EXCEEDED")


def _softmax(similarities: dict[str, float]) -> list[dict[str, Any]]:
    """`ClassificationPredictionLabel`s, best first (ties in label order)."""
    top = max(similarities.values())
    weights = {label: math.exp((value - top) / TEMPERATURE) for label, value in similarities.items()}
    total = math.fsum(weights.values())
    scored = [{"label": label, "score": weights[label] / total} for label in similarities]
    return sorted(scored, key=lambda item: -item["score"])


def _cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def _prediction(index: int, candidates: dict[str, list[float]], vector: list[float]) -> dict[str, Any]:
    predictions = _softmax({label: _cosine(vector, centre) for label, centre in candidates.items()})
    best = predictions[0]
    return {
        "object": "classification",
        "index": index,
        "prediction": best["label"],
        "score": best["score"],
        "predictions": predictions,
    }


@route("POST", "/v1/classify")
def classify(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    if "classifier_id" in body:
        return _few_shot(emulator, request, body)
    _check_fields(body, ("model", "labels", "input"), "The zero-shot classification request")
    model = _model(body.get("model"))
    if "labels" not in body:
        raise ApiError(422, "labels is required for zero-shot classification.", field="labels")
    _check_label_limits(body["labels"])
    try:
        labels = check_labels(body["labels"])
    except ValueError as error:
        raise ApiError(422, str(error), field="labels") from None
    inputs = _inputs(body)
    groups = labels if isinstance(labels, dict) else {"": labels}
    label_vectors = {
        group: {label: _vector(model.name, label, "labels", images=False)[0] for label in members}
        for group, members in groups.items()
    }
    tokens = sum(len(vectors.tokens(label)) for members in groups.values() for label in members)
    data = []
    for index, item in enumerate(inputs):
        vector, count = _vector(model.name, item, f"input.{index}", images=model.images)
        tokens += count
        per_group = {group: _prediction(index, candidates, vector) for group, candidates in label_vectors.items()}
        if isinstance(labels, dict):
            keys = ("prediction", "score", "predictions")
            data.append(
                {
                    "object": "classification",
                    "index": index,
                    **{k: {g: p[k] for g, p in per_group.items()} for k in keys},
                }
            )
        else:
            data.append(per_group[""])
    return Reply(body={"data": data, "usage": {"total_tokens": tokens}})


def _few_shot(emulator: JinaEmulator, request: RecordedRequest, body: dict[str, Any]) -> Reply:
    _check_fields(body, ("classifier_id", "input"), "FewShotClassificationRequest")
    store = _store(emulator)
    with store.lock:
        classifier = _find(store, body.get("classifier_id"), _key(request), owned=False)
        centres = {label: vectors.normalize(total) for label, total in classifier.sums.items()}
        model = classifier.model
    data, tokens = [], 0
    for index, item in enumerate(_inputs(body)):
        vector, count = _vector(model, item, f"input.{index}", images=False)  # few-shot input: text only
        tokens += count
        data.append(_prediction(index, centres, vector))
    with store.lock:
        classifier.used_number += 1
        classifier.used_at = _now()
    return Reply(body={"data": data, "usage": {"total_tokens": tokens}})


def _find(store: _Store, classifier_id: Any, key: str, *, owned: bool) -> Classifier:
    found = store.classifiers.get(classifier_id) if isinstance(classifier_id, str) else None
    if found is None or (found.owner != key and (owned or found.access != "public")):
        detail = f"Classifier '{classifier_id}' not found or access denied. Verify the ID and your permissions."
        raise ApiError(404, detail, code="RESOURCE_NOT_FOUND")
    return found


def _training_items(body: dict[str, Any], *, creating: bool) -> list[tuple[dict[str, Any], str]]:
    items = body.get("input")
    if not creating and isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise ApiError(422, "input must be a non-empty list of training items.", field="input")
    if len(items) > MAX_TRAINING_EXAMPLES or (creating and len(items) < MIN_TRAINING_EXAMPLES):
        low = MIN_TRAINING_EXAMPLES if creating else 1
        raise ApiError(
            422, f"input has {len(items)} items; {low} to {MAX_TRAINING_EXAMPLES} are allowed.", field="input"
        )
    checked = []
    for index, item in enumerate(items):
        where = f"input.{index}"
        if not isinstance(item, dict) or set(item) not in ({"text", "label"}, {"image", "label"}):
            raise ApiError(422, f"{where} must be {{'text', 'label'}} or {{'image', 'label'}}.", field=where)
        label = item["label"]
        if not isinstance(label, str) or not label.strip():
            raise ApiError(422, f"{where}.label must be a non-empty string.", field=f"{where}.label")
        content = {key: value for key, value in item.items() if key != "label"}
        checked.append((content, label))
    return checked


@route("POST", "/v1/train")
def train(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    creating = "classifier_id" not in body
    store = _store(emulator)
    key = _key(request)
    if creating:
        _check_fields(body, ("model", "input", "access", "num_iters"), "The training request")
        model = _model(body.get("model"), training=True)
        access = body.get("access", "public")  # the API's default
        if access not in ACCESS_LEVELS:
            raise ApiError(422, f"access must be one of {', '.join(ACCESS_LEVELS)}.", field="access")
    else:
        _check_fields(body, ("classifier_id", "input", "num_iters"), "UpdateTrainingRequest")
        with store.lock:
            existing = _find(store, body.get("classifier_id"), key, owned=True)
        model = CLASSIFY_MODELS[existing.model]
    num_iters = body.get("num_iters", DEFAULT_NUM_ITERS)
    if not isinstance(num_iters, int) or isinstance(num_iters, bool) or num_iters < 1:
        raise ApiError(422, "num_iters must be a positive integer.", field="num_iters")
    items = _training_items(body, creating=creating)
    if creating and len({label for _, label in items}) < 2:
        detail = "Invalid training labels. At least 2 unique labels are required for training."
        raise ApiError(400, detail, code="INPUT_INVALID_LABELS")
    examples = []
    tokens = 0
    for index, (content, label) in enumerate(items):
        vector, count = _vector(model.name, content, f"input.{index}", images=model.train_images)
        examples.append((label, vector))
        tokens += count + len(vectors.tokens(label))

    with store.lock:
        if creating:
            owned = sum(1 for c in store.classifiers.values() if c.owner == key)
            if owned >= MAX_CLASSIFIERS_PER_KEY:
                detail = f"Resource limit exceeded for your plan. Current: {owned}, limit: {MAX_CLASSIFIERS_PER_KEY}."
                raise ApiError(403, detail, code="AUTHZ_RESOURCE_LIMIT_EXCEEDED")
            now = _now()
            classifier = Classifier(str(uuid.uuid4()), key, model.name, access, created_at=now, updated_at=now)
        else:
            classifier = _find(store, body.get("classifier_id"), key, owned=True)
        labels = set(classifier.sums) | {label for label, _ in examples}
        if len(labels) > MAX_FEW_SHOT_LABELS:
            detail = f"Label limit exceeded: {len(labels)} labels provided, maximum {MAX_FEW_SHOT_LABELS} allowed."
            raise ApiError(400, detail, code="INPUT_LABEL_LIMIT_EXCEEDED")
        for label, vector in examples:
            total = classifier.sums.setdefault(label, [0.0] * len(vector))
            classifier.sums[label] = [a + b for a, b in zip(total, vector, strict=True)]
        if not creating:
            classifier.updated_number += 1
            classifier.updated_at = _now()
        store.classifiers[classifier.classifier_id] = classifier
    answer = {"classifier_id": classifier.classifier_id, "num_samples": len(items), "usage": {"total_tokens": tokens}}
    return Reply(body=answer)


def list_classifiers(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    store = _store(emulator)
    key = _key(request)
    with store.lock:
        return Reply(body=[c.summary() for c in store.classifiers.values() if c.owner == key])


route("GET", "/v1/classifiers")(list_classifiers)
route("POST", "/v1/classifiers")(list_classifiers)


@route("DELETE", "/v1/classifiers/")
def delete_classifier(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    # assumed answer: the spec's schema is a free-form object
    classifier_id = request.path.split("?", 1)[0][len("/v1/classifiers/") :]
    store = _store(emulator)
    with store.lock:
        _find(store, classifier_id, _key(request), owned=True)
        del store.classifiers[classifier_id]
    return Reply(body={"classifier_id": classifier_id, "deleted": True})
