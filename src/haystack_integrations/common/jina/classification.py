"""The classification endpoints: `/v1/classify` (zero-shot and few-shot) and `/v1/train`, as Jina's OpenAPI gives them.

Source: "Jina Search Foundation API" 2026.04.02.1816: the `*ZeroShotClassificationRequest`,
`FewShotClassificationRequest`, `*CreateTrainingRequest`, `UpdateTrainingRequest`, `ClassificationResponse`
and `TrainingResponse` schemas. Limits from there: at most 512 inputs per request, labels as a list of at
most 512 or as at most 8 named groups of at most 64; training takes 2 to 512 examples, with at least two
distinct labels when it creates a classifier. Only the CLIP schema takes images (`ImageDoc`) to classify;
training takes images with jina-clip-v1/v2 and jina-embeddings-v4; few-shot classification takes text only.

Used by `JinaDocumentClassifier`, `JinaTextRouter`, `train_classifier` and the emulator's routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from haystack_integrations.common.jina.answer_checks import (
    answer_data,
    clean_usage,
    data_index,
    is_finite_number,
    malformed_answer,
    no_data_problem,
)
from haystack_integrations.common.jina.endpoints import called_endpoint
from haystack_integrations.common.jina.models import EMBEDDING_MODELS, RERANK_MODELS, unknown_model

CLASSIFY_URL = "https://api.jina.ai/v1/classify"
TRAIN_URL = "https://api.jina.ai/v1/train"
CLASSIFIERS_URL = "https://api.jina.ai/v1/classifiers"

MAX_INPUTS_PER_REQUEST = 512
MAX_LABELS = 512
MAX_LABEL_GROUPS = 8
MAX_LABELS_PER_GROUP = 64
MIN_TRAINING_EXAMPLES = 2  # when a classifier is created; an update may carry one
MAX_TRAINING_EXAMPLES = 512
ACCESS_LEVELS = ("private", "public")

Labels = list[str] | dict[str, list[str]]


@dataclass(frozen=True)
class ClassifyModel:
    """One model of `/v1/classify` and `/v1/train`, as their request schemas (by `discriminator.mapping`) give it."""

    name: str
    schema: str  # the zero-shot request schema
    images: bool = False  # zero-shot inputs may be `ImageDoc`s (only ClipZeroShotClassificationRequest)
    trainable: bool = True  # has a *CreateTrainingRequest
    train_images: bool = False  # training items may be `ImageTrainingItem`s


_V2 = "EmbeddingsV2ZeroShotClassificationRequest"
_CLASSIFY_MODELS: tuple[ClassifyModel, ...] = (
    *(ClassifyModel(f"jina-embeddings-v2-base-{lang}", _V2) for lang in ("en", "de", "es", "zh", "code")),
    ClassifyModel("jina-embeddings-v3", "EmbeddingsV3ZeroShotClassificationRequest"),
    # v4 takes images for training (EmbeddingsV4CreateTrainingRequest) but not to classify (TextDoc only)
    ClassifyModel("jina-embeddings-v4", "EmbeddingsV4ZeroShotClassificationRequest", train_images=True),
    ClassifyModel("jina-embeddings-v5-text-small", "EmbeddingsV5ZeroShotClassificationRequest"),
    ClassifyModel("jina-embeddings-v5-text-nano", "EmbeddingsV5ZeroShotClassificationRequest"),
    ClassifyModel("jina-clip-v1", "ClipZeroShotClassificationRequest", images=True, train_images=True),
    ClassifyModel("jina-clip-v2", "ClipZeroShotClassificationRequest", images=True, train_images=True),
    # no CodeEmbeddings*CreateTrainingRequest: the code models classify zero-shot only
    ClassifyModel("jina-code-embeddings-0.5b", "CodeEmbeddingsZeroShotClassificationRequest", trainable=False),
    ClassifyModel("jina-code-embeddings-1.5b", "CodeEmbeddingsZeroShotClassificationRequest", trainable=False),
)
CLASSIFY_MODELS: Mapping[str, ClassifyModel] = {model.name: model for model in _CLASSIFY_MODELS}


def check_classify_model(model: str, *, images: bool = False, training: bool = False) -> None:
    """
    Refuse, before any request, a known model that cannot do what is asked.

    :param images: Whether images are to be classified (or, with `training`, trained on).
    :param training: Whether the model is to train a few-shot classifier.
    :raises ValueError: Naming the model and the ones that can. Unknown names pass (logged at debug level)
        unless the name is a typo of a known one ("did you mean ...").
    """
    if not isinstance(model, str) or not model:
        msg = f"model must be a model name such as 'jina-embeddings-v3', got {model!r}"
        raise ValueError(msg)
    known = CLASSIFY_MODELS.get(model)
    if known is None:
        if model in EMBEDDING_MODELS or model in RERANK_MODELS:
            msg = f"{model} cannot classify. Models of /v1/classify: {', '.join(CLASSIFY_MODELS)}."
            raise ValueError(msg)
        unknown_model(model, "classification", CLASSIFY_MODELS)
        return
    if training and not known.trainable:
        able = ", ".join(m.name for m in _CLASSIFY_MODELS if m.trainable)
        msg = f"{model} cannot train a few-shot classifier (it classifies zero-shot only). Models that can: {able}."
        raise ValueError(msg)
    takes_images = known.train_images if training else known.images
    if images and not takes_images:
        able = ", ".join(m.name for m in _CLASSIFY_MODELS if (m.train_images if training else m.images))
        msg = f"{model} does not take images {'for training' if training else 'to classify'}. Models that do: {able}."
        raise ValueError(msg)


def check_labels(labels: Any) -> Labels:
    """
    Validate candidate labels: a list, or a dict of named groups (each a list); a fresh copy is returned.

    :raises ValueError: Naming the problem: not a list or dict, empty, a label that is not a non-empty
        string, a label twice (in one group), more than 512 labels, more than 8 groups or 64 labels in one.
    """
    if isinstance(labels, Mapping):
        if not labels:
            msg = "labels must not be an empty dict: give named groups of labels, or a list"
            raise ValueError(msg)
        if len(labels) > MAX_LABEL_GROUPS:
            msg = f"labels has {len(labels)} groups; at most {MAX_LABEL_GROUPS} are allowed"
            raise ValueError(msg)
        groups: dict[str, list[str]] = {}
        for group, members in labels.items():
            if not isinstance(group, str) or not group.strip():
                msg = f"a label group's name must be a non-empty string, got {group!r}"
                raise ValueError(msg)
            groups[group] = _check_label_list(members, f"labels[{group!r}]", MAX_LABELS_PER_GROUP)
        return groups
    return _check_label_list(labels, "labels", MAX_LABELS)


def _check_label_list(labels: Any, name: str, limit: int) -> list[str]:
    if not isinstance(labels, list | tuple) or not labels:
        msg = f"{name} must be a non-empty list of label strings, got {labels!r}"
        raise ValueError(msg)
    if len(labels) > limit:
        msg = f"{name} has {len(labels)} labels; at most {limit} are allowed"
        raise ValueError(msg)
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            msg = f"{name}: every label must be a non-empty string, got {label!r}"
            raise ValueError(msg)
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        msg = f"{name} has duplicate labels: {duplicates}"
        raise ValueError(msg)
    return list(labels)


def check_labels_or_classifier(labels: Any, classifier_id: Any) -> Labels | None:
    """Exactly one of `labels` (zero-shot) and `classifier_id` (few-shot); returns the checked labels."""
    if (labels is None) == (classifier_id is None):
        msg = "give either labels (zero-shot classification) or classifier_id (a trained classifier), exactly one"
        raise ValueError(msg)
    if classifier_id is not None:
        check_classifier_id(classifier_id)
        return None
    return check_labels(labels)


def check_classifier_id(classifier_id: Any) -> None:
    if not isinstance(classifier_id, str) or not classifier_id.strip():
        msg = f"classifier_id must be a non-empty string (as train_classifier returns it), got {classifier_id!r}"
        raise ValueError(msg)


def classify_payload(
    inputs: Sequence[Any], *, model: str, labels: Labels | None, classifier_id: str | None
) -> dict[str, Any]:
    """The request body: zero-shot (`model`, `labels`), or few-shot (`classifier_id`: the classifier has its model)."""
    if classifier_id is not None:
        return {"classifier_id": classifier_id, "input": list(inputs)}
    return {"model": model, "labels": labels, "input": list(inputs)}


@dataclass
class ClassifyResult:
    """The validated answer to one classify request, one classification per input, in input order."""

    classifications: list[dict[str, Any]]
    usage: dict[str, int]


def parse_classify_response(body: Any, expected: int, labels: Labels | None, endpoint: str) -> ClassifyResult:
    """
    Validate a classify answer and turn each prediction into Haystack's classification shape.

    The shape is the one Haystack's zero-shot document classifier writes: `{"label", "score", "details"}`
    (`details` maps every candidate label to its score); with grouped labels, one such dict per group.

    :param labels: The labels sent (zero-shot), so every predicted label is checked to be one of them;
        `None` for a trained classifier, whose labels the request does not carry.
    :raises JinaMalformedResponseError: Unless there is one prediction per input (indices 0..n-1 once
        each), with a label, a finite score and the candidates' scores, grouped as the request was.
    """
    malformed = malformed_answer("classify", called_endpoint(endpoint), body)
    data = answer_data(body, expected, "predictions", malformed)
    found: list[dict[str, Any] | None] = [None] * expected
    for item in data:
        index = data_index(item.get("index") if isinstance(item, dict) else None, found, malformed)
        try:
            if isinstance(labels, dict):
                found[index] = _grouped(item, labels)
            else:
                found[index] = _one(item.get("prediction"), item.get("score"), item.get("predictions"), labels)
        except ValueError as error:
            raise malformed(f"prediction {index}: {error}") from None
    return ClassifyResult([f for f in found if f is not None], clean_usage(body.get("usage")))


def _grouped(item: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, Any]:
    prediction, score, predictions = (item.get(name) for name in ("prediction", "score", "predictions"))
    if not all(isinstance(value, dict) and set(value) == set(groups) for value in (prediction, score, predictions)):
        msg = f"prediction, score and predictions must each hold the groups {sorted(groups)}"
        raise ValueError(msg)
    assert isinstance(prediction, dict) and isinstance(score, dict) and isinstance(predictions, dict)
    return {group: _one(prediction[group], score[group], predictions[group], groups[group]) for group in groups}


def _one(prediction: Any, score: Any, predictions: Any, labels: list[str] | None) -> dict[str, Any]:
    if not isinstance(prediction, str) or (labels is not None and prediction not in labels):
        msg = f"predicted label {prediction!r} is not one of the labels sent"
        raise ValueError(msg)
    if not _is_score(score):
        msg = f"score {score!r} is not a number from 0 to 1"
        raise ValueError(msg)
    if not isinstance(predictions, list) or not predictions:
        msg = "no list of candidate labels with scores (predictions)"
        raise ValueError(msg)
    details: dict[str, float] = {}
    for candidate in predictions:
        label = candidate.get("label") if isinstance(candidate, dict) else None
        value = candidate.get("score") if isinstance(candidate, dict) else None
        if not isinstance(label, str) or not _is_score(value):
            msg = f"a candidate is not a label with a score from 0 to 1: {str(candidate)[:100]}"
            raise ValueError(msg)
        if label in details:
            msg = f"candidate {label[:100]!r} appears twice"
            raise ValueError(msg)
        if labels is not None and label not in labels:
            msg = f"candidate {label[:100]!r} is not one of the labels sent"
            raise ValueError(msg)
        details[label] = float(value)
    # `predictions` holds "all candidate labels with scores" (the spec), the predicted one among them
    missing = [label for label in labels or [prediction] if label not in details]
    if missing:
        msg = f"no score for the candidate labels {missing[:5]}"
        raise ValueError(msg)
    return {"label": prediction, "score": float(score), "details": details}


def _is_score(value: Any) -> TypeGuard[int | float]:
    """
    A confidence score. The spec types it as a number only ("Confidence score"); assumed here a probability,
    0 to 1, as a softmax over the candidates gives (the emulator's), and as Haystack's classifiers write it.
    """
    return is_finite_number(value) and 0 <= value <= 1


def _is_number(value: Any) -> TypeGuard[int | float]:
    return is_finite_number(value)


def parse_training_response(body: Any, endpoint: str) -> tuple[str, int, dict[str, int]]:
    """The `classifier_id`, `num_samples` and usage of a training answer; else `JinaMalformedResponseError`."""
    classifier_id = body.get("classifier_id") if isinstance(body, dict) else None
    samples = body.get("num_samples") if isinstance(body, dict) else None
    if not isinstance(classifier_id, str) or not classifier_id or not _is_number(samples):
        problem = no_data_problem(body, "classifier_id") if classifier_id is None else f"{str(body)[:200]}"
        malformed = malformed_answer("training", called_endpoint(endpoint), body)
        raise malformed(f"no classifier_id and num_samples ({problem})")
    return classifier_id, int(samples), clean_usage(body.get("usage"))
