"""JinaDocumentClassifier: classifies Documents with Jina's `/v1/classify`: zero-shot against labels, or with
a trained classifier.

```python
from haystack import Document
from haystack_integrations.components.classifiers.jina import JinaDocumentClassifier

# JINA_API_KEY must be set
classifier = JinaDocumentClassifier(labels=["sports", "cooking"])
result = classifier.run([Document(content="Boil the pasta for nine minutes.")])
print(result["documents"][0].meta["classification"])
# {'label': 'cooking', 'score': 0.9..., 'details': {'cooking': 0.9..., 'sports': 0.0...}}
```

Each document comes back as a copy with the answer in `meta[output_meta_field]` (`"classification"` by
default), shaped as Haystack's zero-shot document classifier writes it: `label` (the winner), `score`
and `details` (every label's score). With labels in named groups (`{"topic": [...], "tone": [...]}`,
each group classified on its own) it holds one such dict per group name.

What is classified: the document's content, or `meta[classification_field]` when that is set (as in
Haystack's classifier), preceded by the values of `meta_fields_to_embed`. A document without such text
but with an image in `meta[file_path_meta_field]` is classified by its image, with the models whose
classify schema takes images (jina-clip-v1, jina-clip-v2), using the conventions of
`JinaDocumentImageEmbedder`: image files and PDF pages (`meta["page_number"]`, 1-based) relative to
`root_path`, shrunk to fit `image_size`, http(s) URLs sent as they are (a PDF by URL cannot be
classified). A trained classifier (`classifier_id`) takes text only, per Jina's spec.

Requests carry up to `batch_size` documents (the API takes at most 512) and run concurrently, at most
`max_concurrency` at once, paced within the key's rate limits. Every input document comes back, in
order. A document that cannot be classified (no text and no image, an unreadable image, a failed
request) raises a `JinaError` naming it, or with `raise_on_failure=False` comes back without the
classification and is listed in `meta["failed_documents"]` with the error.
"""

from dataclasses import replace
from typing import Any

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.common.jina.batches import Job, consecutive_groups, run_job
from haystack_integrations.common.jina.classification import (
    CLASSIFY_URL,
    MAX_INPUTS_PER_REQUEST,
    check_classify_model,
    check_labels_or_classifier,
)
from haystack_integrations.common.jina.component_utils import ClassifyComponentBase
from haystack_integrations.common.jina.documents import (
    check_documents,
    check_each,
    failed_documents,
    text_with_meta,
    unwrap,
)
from haystack_integrations.common.jina.errors import JinaInputError
from haystack_integrations.common.jina.images import (
    ImageSource,
    ImageURL,
    check_image_size,
    resolve_image_doc,
)

#: One request per this many documents by default: a quarter of the API's 512, so a few requests run at once.
DEFAULT_BATCH_SIZE = 128

Source = str | ImageSource | ImageURL


@component
class JinaDocumentClassifier(ClassifyComponentBase):
    """
    Classifies Documents with Jina's `/v1/classify`, zero-shot against labels or with a classifier trained
    by `train_classifier`; texts, or images with jina-clip. It returns copies of all of them, in input
    order, with the label, its score and every label's score in `meta["classification"]`.
    """

    def __init__(
        self,
        labels: list[str] | dict[str, list[str]] | None = None,
        *,
        classifier_id: str | None = None,
        model: str = "jina-embeddings-v3",
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        base_url: str = CLASSIFY_URL,
        classification_field: str | None = None,
        output_meta_field: str = "classification",
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        file_path_meta_field: str = "file_path",
        root_path: str | None = None,
        image_size: tuple[int, int] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        raise_on_failure: bool = True,
        progress_bar: bool = True,
    ) -> None:
        """
        Create a JinaDocumentClassifier.

        :param labels: The candidate labels (zero-shot): a list of up to 512, or a dict of up to 8 named
            groups of up to 64 labels each. Give either `labels` or `classifier_id`.
        :param classifier_id: A few-shot classifier trained with `train_classifier` (or Jina's `/v1/train`).
            The classifier brings its model and labels; `model` is then not sent.
        :param model: The model for zero-shot classification: a Jina embedding model (default
            `jina-embeddings-v3`; `jina-clip-v1` / `jina-clip-v2` also classify images). A known model that
            cannot classify, or a typo of a known name ("did you mean ..."), raises `ValueError`; unknown
            names pass unchecked.
        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param base_url: The full URL of the classify endpoint. When it is the hosted default,
            `JINA_API_BASE_URL` (an origin such as `http://127.0.0.1:8080`) replaces its origin.
        :param classification_field: A meta field to classify instead of the content (Haystack's meaning).
            `None` classifies the content.
        :param output_meta_field: The meta field the classification is written to.
        :param meta_fields_to_embed: Meta fields whose values are classified with the text, before it.
        :param embedding_separator: Joins the meta values and the text.
        :param file_path_meta_field: The meta field holding the path or URL of a document's image.
        :param root_path: The folder relative image paths are resolved against; paths outside it are refused.
            Only with models that take images.
        :param image_size: A `(width, height)` box images are shrunk to fit. Only with models that take images.
        :param batch_size: Documents per request, 1 to 512.
        :param max_concurrency: Requests in flight at once, at most, over all concurrent runs of this instance.
            `None` follows the key: the concurrency of `JINA_RATE_LIMITS`, else 5 growing while the server
            accepts more. Unstated, at most 16 at once (each request holds its images in memory).
        :param timeout: Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries on rate limits, 500/502/503/504 and connection errors. `None` reads
            `JINA_MAX_RETRIES`, else 5.
        :param raise_on_failure: If `False`, a failed request or an unusable document leaves its documents
            unclassified and listed in `meta["failed_documents"]` instead of raising.
        :param progress_bar: Show a progress bar counting classified documents.
        :raises ValueError: If both or neither of `labels` and `classifier_id` are given, the labels break
            the API's limits, `batch_size` is not 1 to 512, `base_url` is not an absolute http(s) URL, or
            image options are given with a model (or a trained classifier) that takes no images.
        """
        checked = check_labels_or_classifier(labels, classifier_id)
        uses_images = root_path is not None or image_size is not None
        if uses_images and classifier_id is not None:
            msg = "root_path and image_size are for images, and a trained classifier classifies text only"
            raise ValueError(msg)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 512:
            msg = f"batch_size must be a whole number from 1 to {MAX_INPUTS_PER_REQUEST}, got {batch_size!r}"
            raise ValueError(msg)
        self._keep_classify_settings(checked, classifier_id, model, base_url, images=uses_images)
        self.classification_field = classification_field
        self.output_meta_field = output_meta_field
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.file_path_meta_field = file_path_meta_field
        self.root_path = root_path
        self.image_size = check_image_size(image_size)
        self.batch_size = batch_size
        self.raise_on_failure = raise_on_failure
        self.progress_bar = progress_bar
        # unstated, the key's growing bound applies up to 16: each request carries images, held while in flight
        self._connect(
            api_key, timeout=timeout, max_retries=max_retries, max_concurrency=max_concurrency, unstated_cap=16
        )

    def _source(self, document: Document) -> Source:
        """What to classify: the text, else the image; `JinaInputError` naming the document when neither."""
        if self.classification_field is None:
            text = document.content
        elif self.classification_field in document.meta:
            text = str(document.meta[self.classification_field])
        else:
            msg = f"Cannot classify document {document.id}: its meta has no '{self.classification_field}' field."
            raise JinaInputError(msg)
        if text is not None and text.strip():
            return text_with_meta(replace(document, content=text), self.meta_fields_to_embed, self.embedding_separator)
        if document.meta.get(self.file_path_meta_field) in (None, ""):
            msg = (
                f"Cannot classify document {document.id}: it has no text and no image "
                f"(meta['{self.file_path_meta_field}'])."
            )
            raise JinaInputError(msg)
        if self.classifier_id is not None:
            msg = f"Cannot classify the image of document {document.id}: a trained classifier classifies text only."
            raise JinaInputError(msg)
        try:
            check_classify_model(self.model, images=True)
        except ValueError as error:
            raise JinaInputError(f"Cannot classify the image of document {document.id}: {error}") from None
        return resolve_image_doc(
            document.id,
            document.meta,
            file_path_meta_field=self.file_path_meta_field,
            root_path=self.root_path,
            use="classify",
        )

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Classify Documents.

        :param documents: The Documents to classify.
        :returns: `documents`: copies of all inputs, in order, with `meta[output_meta_field]` set where
            classification succeeded; `meta`: `model` (or `classifier_id`), summed `usage`, and with
            `raise_on_failure=False` `failed_documents` (`{"id", "error"}` per document left unclassified).
        :raises TypeError: If the input is not a list of Documents.
        :raises JinaError: If a request fails or a document cannot be classified (with `raise_on_failure`).
        """
        return self._call(self._run(documents))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """
        Classify Documents without blocking the event loop. Same parameters and result as `run`.

        :param documents: The Documents to classify.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._run(documents))

    async def _run(self, documents: list[Document]) -> dict[str, Any]:
        check_documents(documents, "JinaDocumentClassifier", "To route a string, use JinaTextRouter.")
        meta: dict[str, Any] = {"usage": {}}
        meta.update({"classifier_id": self.classifier_id} if self.classifier_id else {"model": self.model})
        if not self.raise_on_failure:  # failures raise otherwise: a list of them would always be empty
            meta["failed_documents"] = []
        if not documents:
            return {"documents": [], "meta": meta}

        sources = check_each(documents, self._source, raise_on_failure=self.raise_on_failure)
        images = {p: s for p, s in enumerate(sources) if isinstance(s, ImageSource | ImageURL)}
        job: Job[dict[str, Any]] = Job(
            url=self.base_url,
            input_of=lambda position: unwrap(sources[position]),  # raises the document's own input error
            body=self._classify_body,
            parse=self._parse,
            size_of=lambda positions: (
                sum(len(source) for p in positions if isinstance(source := sources[p], str)),
                sum(p in images for p in positions),
            ),
            # each request's images are prepared in parallel once it has its slots, held only while in flight
            images=images,
            image_size=self.image_size,
            ids=[document.id for document in documents],
            what="Classifying documents",
        )
        groups = consecutive_groups(len(documents), self.batch_size)
        outcome = await run_job(
            self._client, job, groups, raise_on_failure=self.raise_on_failure, progress_bar=self.progress_bar
        )
        output = []
        for position, document in enumerate(documents):
            new_meta = document.meta.copy()
            if position in outcome.values:
                new_meta[self.output_meta_field] = outcome.values[position]
            output.append(replace(document, meta=new_meta))
        meta["usage"] = outcome.usage
        if not self.raise_on_failure:
            meta["failed_documents"] = failed_documents(documents, outcome.errors)
        return {"documents": output, "meta": meta}
