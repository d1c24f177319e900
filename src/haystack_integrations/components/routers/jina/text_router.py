"""JinaTextRouter: routes a text to the output named after its label, classified by Jina's `/v1/classify`.

One output socket per label, as Haystack's zero-shot text router has: in a pipeline, connect
`router.<label>` to the branch for that label; only the winning label's output carries the text, so
only its branch runs.

```python
from haystack_integrations.components.routers.jina import JinaTextRouter

# JINA_API_KEY must be set
router = JinaTextRouter(labels=["weather", "cooking"])
print(router.run("Will it rain tomorrow? What does the weather forecast say?"))
# {'weather': 'Will it rain tomorrow? What does the weather forecast say?'}
```

Zero-shot (the default) sends the labels with each text. With `classifier_id` (a classifier trained
with `train_classifier`) the labels are still required: a pipeline's sockets must be known when it is
built, and the classifier's labels are only known to the API. Give the labels it was trained with;
they are not sent. A text the classifier labels with a label not in `labels` raises `JinaInputError`
naming it, so a mismatch cannot drop a text silently.
"""

from haystack import component
from haystack.utils import Secret

from haystack_integrations.common.jina.classification import CLASSIFY_URL, check_classifier_id, check_labels
from haystack_integrations.common.jina.component_utils import ClassifyComponentBase
from haystack_integrations.common.jina.errors import JinaInputError


@component
class JinaTextRouter(ClassifyComponentBase):
    """
    Routes a text to the output named after its label, classified by Jina's `/v1/classify` zero-shot
    against the labels or with a classifier trained by `train_classifier`: one output per label, so only
    the winning label's pipeline branch runs.
    """

    def __init__(
        self,
        labels: list[str],
        *,
        classifier_id: str | None = None,
        model: str = "jina-embeddings-v3",
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        base_url: str = CLASSIFY_URL,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        """
        Create a JinaTextRouter.

        :param labels: The labels, one output socket each (up to 512). With `classifier_id`: the labels
            the classifier was trained with.
        :param classifier_id: Route with this trained classifier instead of zero-shot.
        :param model: The model for zero-shot classification (default `jina-embeddings-v3`); not sent with
            `classifier_id`. A known model that cannot classify, or a typo of a known name, raises `ValueError`.
        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param base_url: The full URL of the classify endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more.
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :raises ValueError: If the labels are not a list of distinct non-empty strings (up to 512), the model
            cannot classify, or `base_url` is not an absolute http(s) URL.
        """
        if not isinstance(labels, list | tuple):
            msg = f"labels must be a list of label strings (one output each), got {labels!r}"
            raise ValueError(msg)
        checked = check_labels(labels)
        assert isinstance(checked, list)
        if classifier_id is not None:
            check_classifier_id(classifier_id)
        self._keep_classify_settings(checked, classifier_id, model, base_url)
        self._connect(api_key, timeout, max_retries, max_concurrency)
        component.set_output_types(self, **dict.fromkeys(checked, str))

    def run(self, text: str) -> dict[str, str]:
        """
        Route a text to the output of its label.

        :param text: The text to classify and route.
        :returns: `{label: text}` for the winning label.
        :raises TypeError: If `text` is not a string.
        :raises ValueError: If `text` is empty.
        :raises JinaError: If the request fails, or a trained classifier answers a label not in `labels`.
        """
        return self._call(self._run(text))

    async def run_async(self, text: str) -> dict[str, str]:
        """
        Route a text without blocking the event loop. Same parameters and result as `run`.

        :param text: The text to classify and route.
        :returns: `{label: text}` for the winning label.
        """
        return await self._call_async(self._run(text))

    async def _run(self, text: str) -> dict[str, str]:
        if not isinstance(text, str):
            msg = f"JinaTextRouter expects a str, got {type(text).__name__} (for Documents: JinaDocumentClassifier)."
            raise TypeError(msg)
        if not text.strip():
            msg = "JinaTextRouter needs a non-empty text to route."
            raise ValueError(msg)
        answer = await self._client.post_json_async(self.base_url, self._classify_body([text]))
        classifications, _, _ = self._parse(answer, 1)
        label = classifications[0]["label"]
        if label not in (self.labels or ()):
            msg = (
                f"Classifier {self.classifier_id} labelled the text {label!r}, which is not one of this router's "
                f"labels {self.labels}: give the labels the classifier was trained with."
            )
            raise JinaInputError(msg)
        return {label: text}
