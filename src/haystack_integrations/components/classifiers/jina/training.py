from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from haystack import Document, logging
from haystack.utils import Secret

from haystack_integrations.common.jina.classification import (
    ACCESS_LEVELS,
    CLASSIFIERS_URL,
    MAX_TRAINING_EXAMPLES,
    MIN_TRAINING_EXAMPLES,
    TRAIN_URL,
    check_classifier_id,
    check_classify_model,
    parse_training_response,
)
from haystack_integrations.common.jina.client import JinaClient, encode_json, parse_json
from haystack_integrations.common.jina.endpoints import called_endpoint, check_base_url
from haystack_integrations.common.jina.errors import JinaError, JinaMalformedResponseError
from haystack_integrations.common.jina.images import check_image_size, image_base64, image_input, resolve_image_doc

logger = logging.getLogger(__name__)

Example = Document | tuple[str, str]


def train_classifier(
    examples: Sequence[Example],
    *,
    model: str = "jina-embeddings-v3",
    classifier_id: str | None = None,
    access: str = "private",
    num_iters: int | None = None,
    label_meta_field: str = "label",
    file_path_meta_field: str = "file_path",
    root_path: str | None = None,
    image_size: tuple[int, int] | None = None,
    api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
    base_url: str = TRAIN_URL,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> str:
    """
    Train a few-shot classifier on labelled examples (Jina's `/v1/train`), or add examples to one; returns its id.

    **Private by default.** Jina's API makes a new classifier *public* unless told otherwise, which would
    publish the training examples. This function sends `access="private"` unless you pass
    `access="public"` yourself. (An update keeps the classifier's access: the API takes no `access` then.)

    ```python
    from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier, train_classifier

    # JINA_API_KEY must be set
    classifier_id = train_classifier([("Boil the pasta", "cooking"), ("Score a goal", "sports")])
    classifier = JinaDocumentClassifier(classifier_id=classifier_id)
    ```

    :param examples: `(text, label)` pairs, or Documents with the label in `meta[label_meta_field]` and
        the text as content. A Document without content but with an image in `meta[file_path_meta_field]`
        trains on the image (jina-clip-v1/v2 and jina-embeddings-v4 take images), with the conventions of
        `JinaDocumentImageEmbedder` (`root_path`, `image_size`, PDF pages by `meta["page_number"]`).
        A new classifier needs at least 2 examples with at least 2 distinct labels. More than 512 are
        sent in requests of 512, one after the other: the first creates the classifier, the rest update it.
    :param model: The embedding model of a new classifier (default `jina-embeddings-v3`). Not sent when
        updating: the classifier keeps its model.
    :param classifier_id: Add the examples to this classifier instead of creating one.
    :param access: `"private"` (our default) or `"public"`, for a new classifier.
    :param num_iters: Training iterations per request; `None` sends nothing (the API's default is 10).
    :param label_meta_field: The meta field holding a Document's label.
    :param file_path_meta_field: The meta field holding the path or URL of a Document's image.
    :param root_path: The folder relative image paths are resolved against; paths outside it are refused.
    :param image_size: A `(width, height)` box images are shrunk to fit.
    :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
    :param base_url: The full URL of the training endpoint. When it is the hosted default,
        `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
    :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
    :param max_retries: Retries on rate limits and on connections that failed before anything was sent
        (a training request is never sent twice once the server may have acted on it: a 5xx or a timeout
        is raised at once). `None` reads `JINA_MAX_RETRIES`, else 5.
    :returns: The `classifier_id`, for `JinaDocumentClassifier(classifier_id=...)` and `JinaTextRouter`.
    :raises ValueError: Bad examples (naming the one), labels, `access`, `num_iters`, or a model that
        cannot train (or take images). Nothing is sent then.
    :raises JinaError: If a request fails; the subclass says how. When a later request of a large set
        fails, the classifier exists with the examples sent before (the error names its id).
    """
    if access not in ACCESS_LEVELS:
        msg = f"access must be one of {ACCESS_LEVELS}, got {access!r}"
        raise ValueError(msg)
    if num_iters is not None and (isinstance(num_iters, bool) or not isinstance(num_iters, int) or num_iters < 1):
        msg = f"num_iters must be None or a whole number >= 1, got {num_iters!r}"
        raise ValueError(msg)
    if classifier_id is not None:
        check_classifier_id(classifier_id)
    check_base_url(base_url, like=TRAIN_URL)
    image_size = check_image_size(image_size)
    items = [
        _item(example, index, label_meta_field, file_path_meta_field, root_path)
        for index, example in enumerate(examples)
    ]
    check_classify_model(model, training=True, images=any("image" in item for item in items))
    if classifier_id is None:
        _check_new_classifier(items)
    elif not items:
        msg = "examples is empty: give at least one example to add to the classifier"
        raise ValueError(msg)

    chunks = [items[start : start + MAX_TRAINING_EXAMPLES] for start in range(0, len(items), MAX_TRAINING_EXAMPLES)]
    client = JinaClient(api_key, timeout=timeout, max_retries=max_retries)
    try:
        for number, chunk in enumerate(chunks):
            body: dict[str, Any] = (
                {"model": model, "access": access} if classifier_id is None else {"classifier_id": classifier_id}
            )
            body["input"] = [_prepared(item, image_size) for item in chunk]
            if num_iters is not None:
                body["num_iters"] = num_iters
            try:
                # training adds examples: a retry after the server may have acted would add them twice
                answer = client.post_json(base_url, encode_json(body), idempotent=False)
            except JinaError:
                if number > 0:  # the classifier exists: say which, and what it holds
                    sent = number * MAX_TRAINING_EXAMPLES
                    logger.warning(
                        "Training stopped after {sent} of {total} examples; classifier {id} holds those.",
                        sent=sent,
                        total=len(items),
                        id=classifier_id,
                    )
                raise
            classifier_id = parse_training_response(answer, base_url)[0]
    finally:
        client.close()
    assert classifier_id is not None  # at least one chunk was sent
    return classifier_id


def _item(
    example: Any, index: int, label_meta_field: str, file_path_meta_field: str, root_path: str | None
) -> dict[str, Any]:
    """One training item, `{"text"|"image", "label"}`; an image is only located here (read when it is sent)."""
    if isinstance(example, Document):
        label = example.meta.get(label_meta_field)
        what = f"example {index} (document {example.id})"
        if example.content and example.content.strip():
            item: dict[str, Any] = {"text": example.content}
        elif example.meta.get(file_path_meta_field) not in (None, ""):
            item = {
                "image": resolve_image_doc(
                    example.id,
                    example.meta,
                    file_path_meta_field=file_path_meta_field,
                    root_path=root_path,
                    use="train a classifier on",
                )
            }
        else:
            msg = f"{what} has no content and no image (meta['{file_path_meta_field}'])"
            raise ValueError(msg)
    elif isinstance(example, tuple) and len(example) == 2 and isinstance(example[0], str) and example[0].strip():
        what = f"example {index}"
        item, label = {"text": example[0]}, example[1]
    else:
        msg = f"example {index} must be a (text, label) pair with non-empty text, or a Document; got {example!r:.100}"
        raise ValueError(msg)
    if not isinstance(label, str) or not label.strip():
        msg = f"{what} has no label: a non-empty string is needed (for a Document, in meta['{label_meta_field}'])"
        raise ValueError(msg)
    item["label"] = label
    return item


def _check_new_classifier(items: list[dict[str, Any]]) -> None:
    labels = {item["label"] for item in items}
    if len(items) < MIN_TRAINING_EXAMPLES or len(labels) < 2:
        msg = (
            f"A new classifier needs at least {MIN_TRAINING_EXAMPLES} examples with at least 2 distinct labels; "
            f"got {len(items)} example(s) with label(s) {sorted(labels)}"
        )
        raise ValueError(msg)
    # the first request creates the classifier, and the API wants two labels in it: bring one forward
    first = {item["label"] for item in items[:MAX_TRAINING_EXAMPLES]}
    if len(first) < 2:
        other = next(i for i, item in enumerate(items) if item["label"] not in first)
        items.insert(0, items.pop(other))


def _prepared(item: dict[str, Any], image_size: tuple[int, int] | None) -> dict[str, Any]:
    """The item as it goes on the wire: an image file read and encoded now, a URL as it is."""
    source = item.get("image")
    if source is None:
        return item
    return {**image_input(source, image_base64(source, image_size)), "label": item["label"]}


def list_classifiers(
    *,
    api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
    base_url: str = CLASSIFIERS_URL,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> list[dict[str, Any]]:
    """
    The few-shot classifiers the key owns (Jina's `GET /v1/classifiers`), as the API describes them.

    :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
    :param base_url: The URL of the classifiers endpoint; `JINA_API_BASE_URL` moves the hosted default.
    :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
    :param max_retries: Retries on transient failures. `None` reads `JINA_MAX_RETRIES`, else 5.
    :returns: One dict per classifier (`classifier_id`, `model`, `labels`, `access`, ...).
    :raises JinaError: If the request fails or the answer is not a list of objects.
    """
    check_base_url(base_url, like=CLASSIFIERS_URL)
    client = JinaClient(api_key, timeout=timeout, max_retries=max_retries)
    try:
        answer = parse_json(client.request("GET", base_url), base_url)
    finally:
        client.close()
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        endpoint = called_endpoint(base_url)
        msg = f"Malformed answer from {endpoint}: not a list of classifiers ({str(answer)[:200]})"
        raise JinaMalformedResponseError(msg, endpoint=endpoint)
    return answer


def delete_classifier(
    classifier_id: str,
    *,
    api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
    base_url: str = CLASSIFIERS_URL,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> None:
    """
    Delete a few-shot classifier the key owns (Jina's `DELETE /v1/classifiers/{classifier_id}`).

    :param classifier_id: The classifier, as `train_classifier` returned it.
    :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
    :param base_url: The URL of the classifiers endpoint (the id is appended); `JINA_API_BASE_URL` moves
        the hosted default.
    :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
    :param max_retries: Retries on transient failures. `None` reads `JINA_MAX_RETRIES`, else 5.
    :raises JinaError: If the request fails (an unknown id, or someone else's classifier: 404).
    """
    check_classifier_id(classifier_id)
    check_base_url(base_url, like=CLASSIFIERS_URL)
    client = JinaClient(api_key, timeout=timeout, max_retries=max_retries)
    try:
        client.request("DELETE", f"{base_url.rstrip('/')}/{quote(classifier_id, safe='')}")
    finally:
        client.close()
