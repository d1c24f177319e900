"""JinaBatchDocumentEmbedder: embeds a large corpus through Jina's Batch API, as server-side jobs, resumably.

```python
from haystack_integrations.components.embedders.jina import JinaBatchDocumentEmbedder

# JINA_API_KEY must be set
embedder = JinaBatchDocumentEmbedder(task="retrieval", job_store="corpus-jobs.json")
result = embedder.run(documents)  # submits, polls, collects; run it again after a crash: it resumes
```

The jobs run on Jina's side with no rate-limit pressure on the client; results take minutes to hours
(a job's output is kept 24 h). For answers in seconds use `JinaDocumentEmbedder`.

Two steps, for scheduled indexing: `submit(documents)` records the jobs in the job store and returns;
later (another process, another day), `run(documents)` or `collect(documents)` on the same Documents
and store waits for them and returns the embedded Documents. In a pipeline there is nothing else to
wire: the same pipeline run again resumes from the store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from haystack import Document, component, logging
from haystack.utils import Secret

from haystack_integrations.common.jina import batch_api
from haystack_integrations.common.jina.batch_api import (
    BATCH_MODELS,
    BATCH_TASKS,
    MAX_DIMENSIONS,
    MAX_URL_INPUTS,
    JobResults,
)
from haystack_integrations.common.jina.batch_runner import BatchRun, Plan, Settings, assemble
from haystack_integrations.common.jina.batch_store import JinaBatchStoreError, JobStore
from haystack_integrations.common.jina.component_utils import JinaComponentBase, check_documents
from haystack_integrations.common.jina.embeddings import check_dimensions, text_to_embed
from haystack_integrations.common.jina.endpoints import HOSTED_API_ORIGIN, check_base_url
from haystack_integrations.common.jina.errors import JinaError, JinaInputError
from haystack_integrations.common.jina.models import EMBEDDING_MODELS

logger = logging.getLogger(__name__)

#: Seconds between polls: within Jina's advice of 10 to 30 s (each wait grows to at most 1.8x, with jitter).
DEFAULT_POLL_INTERVAL = 15.0
#: Output problems logged one by one; the rest are counted (all of them are in `meta["problems"]`).
LOGGED_PROBLEMS = 5
#: A job completes or expires within 24 h of its submission, so waiting longer cannot help.
DEFAULT_MAX_WAIT = 24 * 3600.0


@component
class JinaBatchDocumentEmbedder(JinaComponentBase):
    """
    Embeds Documents with Jina's Batch API (`jina-embeddings-v5-text-small` or `-nano`) and returns copies of
    all of them, in input order, with `embedding` set. Results are matched to Documents by `custom_id`, never by
    position. With `job_store`, an interrupted run started again on the same Documents resumes its jobs
    instead of submitting (and paying for) them again.
    """

    def __init__(
        self,
        api_key: Secret = Secret.from_env_var("JINA_API_KEY"),  # noqa: B008
        model: str = "jina-embeddings-v5-text-small",
        prefix: str = "",
        suffix: str = "",
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        task: str | None = None,
        dimensions: int | None = None,
        *,
        base_url: str = HOSTED_API_ORIGIN,
        normalized: bool | None = None,
        job_store: str | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_wait: float = DEFAULT_MAX_WAIT,
        cancel_on_exit: bool = False,
        webhook_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        raise_on_failure: bool = True,
    ) -> None:
        """
        Create a JinaBatchDocumentEmbedder.

        :param api_key: The Jina API key; by default read from the `JINA_API_KEY` environment variable.
        :param model: `jina-embeddings-v5-text-small` or `jina-embeddings-v5-text-nano`, the Batch API's models.
        :param prefix: Text added before each document's text.
        :param suffix: Text added after each document's text.
        :param progress_bar: Show a progress bar following the jobs' `stats`.
        :param meta_fields_to_embed: Meta fields whose values are embedded with the content, before it.
        :param embedding_separator: Joins the meta values and the content.
        :param task: `retrieval`, `text-matching`, `clustering` or `classification` (the Batch API's tasks;
            `None` keeps its default, `text-matching`). Embed documents to retrieve with `retrieval`.
        :param dimensions: Truncate vectors to this many dimensions (1 to 1024; at most 768 for nano).
        :param base_url: The API's origin; `/v1/batch/...` is appended. When it is the hosted default,
            `JINA_API_BASE_URL` replaces it.
        :param normalized: Ask for L2-normalized vectors. `None` keeps the API default (normalized).
        :param job_store: A JSON file recording the submitted jobs and their Documents' `custom_id`s (see
            `batch_store.py`), written before polling starts. A run started again on the same Documents picks
            up its jobs instead of resubmitting them. `None`: jobs are known to this run only.
        :param poll_interval: Seconds between status polls (default 15, within Jina's advice of 10 to 30 s;
            each wait grows to at most 1.8x and has +-10% jitter). Fractions of a second are for tests.
        :param max_wait: Seconds a run waits for its jobs at most (default 24 h, a job's whole window). Then it
            raises; the jobs keep running, and a run with the same `job_store` resumes them.
        :param cancel_on_exit: Cancel the jobs still running when a run ends early (an error, `max_wait`,
            Ctrl-C, a cancelled task). By default they keep running, for the next run to collect. After
            Ctrl-C or a cancelled task the cancelling goes on in the background: best effort, if the process
            lives on for the moment it takes.
        :param webhook_url: A URL Jina POSTs to when a job completes.
        :param timeout: Seconds to wait for each HTTP answer. `None` reads `JINA_TIMEOUT`, else 60.
        :param max_retries: Retries of each HTTP request on rate limits, 500/502/503/504 and connection errors.
            `None` reads `JINA_MAX_RETRIES`, else 5. Polling goes on after a request gave up (until `max_wait`).
        :param max_concurrency: Requests in flight at once (submitting and polling many jobs), at most.
        :param raise_on_failure: If `True`, a Document left without embedding (a failed line, a failed job, an
            input error) raises. If `False`, it comes back without embedding and `meta["failed_documents"]`
            lists it with the reason; the rest are embedded.
        """
        if model not in BATCH_MODELS:
            msg = f"The Batch API embeds with {' or '.join(BATCH_MODELS)} only; got model={model!r}."
            raise ValueError(msg)
        if task is not None and task not in BATCH_TASKS:
            msg = f"task must be one of {', '.join(BATCH_TASKS)} (the Batch API's tasks) or None; got {task!r}."
            raise ValueError(msg)
        dimensions = check_dimensions(dimensions)
        native = EMBEDDING_MODELS[model].native_dimensions
        if dimensions is not None and dimensions > min(MAX_DIMENSIONS, native):
            msg = f"dimensions must be from 1 to {min(MAX_DIMENSIONS, native)} for {model}; got {dimensions}."
            raise ValueError(msg)
        for name, value in (("poll_interval", poll_interval), ("max_wait", max_wait)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                msg = f"{name} must be a positive number of seconds; got {value!r}."
                raise ValueError(msg)
        check_base_url(base_url, like=HOSTED_API_ORIGIN)
        check_base_url(webhook_url, "webhook_url", like="https://example.com/jina-hook")
        self.model = model
        self.prefix = prefix
        self.suffix = suffix
        self.progress_bar = progress_bar
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.task = task
        self.dimensions = dimensions
        self.base_url = base_url
        self.normalized = normalized
        self.job_store = os.fspath(job_store) if job_store is not None else None
        self.poll_interval = float(poll_interval)
        self.max_wait = float(max_wait)
        self.cancel_on_exit = cancel_on_exit
        self.webhook_url = webhook_url
        self.raise_on_failure = raise_on_failure
        self._connect(api_key, timeout, max_retries, max_concurrency)

    # ------------------------------------------------------------------ the component's API
    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Embed Documents: submit the jobs the job store does not hold yet, wait for all of them, collect.

        :param documents: The Documents to embed.
        :returns: `documents`: copies of all inputs, in order, with `embedding` set; `meta`: `model`, `usage`,
            `batch_ids`, `problems` (output lines that could not be assigned), and with `raise_on_failure=False`
            `failed_documents` (`{"id", "error"}` per Document left without embedding).
        :raises JinaBatchJobError: If a job is unknown to the server, or `max_wait` passes (resume by running
            again), or (with `raise_on_failure`) a job failed, expired or was cancelled.
        :raises JinaBatchStoreError: If the job store is corrupt or belongs to other Documents or settings.
        """
        return self._call(self._work(documents, submit=True, wait=True))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """
        Like `run`, without blocking the event loop.

        :param documents: The Documents to embed.
        :returns: `documents` and `meta`, as `run`.
        """
        return await self._call_async(self._work(documents, submit=True, wait=True))

    def submit(self, documents: list[Document], input_url: str | None = None) -> dict[str, Any]:
        """
        Submit the jobs for `documents` (those the job store does not hold yet) and return without waiting.

        :param documents: The Documents to embed.
        :param input_url: A JSONL file of all the Documents' lines (made by `write_input_file` and uploaded
            where Jina can read it: GCS, S3 or HTTP), for up to 50,000 Documents in one job.
        :returns: `batch_ids`: every job of these Documents; `submitted`: the ones this call submitted.
        """
        return self._call(self._work(documents, submit=True, wait=False, input_url=input_url))

    async def submit_async(self, documents: list[Document], input_url: str | None = None) -> dict[str, Any]:
        """Like `submit`, without blocking the event loop."""
        return await self._call_async(self._work(documents, submit=True, wait=False, input_url=input_url))

    def collect(self, documents: list[Document]) -> dict[str, Any]:
        """
        Wait for the jobs `submit` recorded for `documents` and return them embedded, as `run`; submits nothing.

        :raises JinaBatchStoreError: If some Documents are in no stored job (submit them first).
        """
        return self._call(self._work(documents, submit=False, wait=True))

    async def collect_async(self, documents: list[Document]) -> dict[str, Any]:
        """Like `collect`, without blocking the event loop."""
        return await self._call_async(self._work(documents, submit=False, wait=True))

    def write_input_file(self, documents: list[Document], path: str | os.PathLike[str]) -> dict[str, Any]:
        """
        Write the Documents' input lines as JSONL for `submit(documents, input_url=...)`, and check the file.

        The lines are those `run` would send (same texts, same `custom_id`s), so the results match the Documents.

        :returns: `path` and `lines` (distinct Documents; identical ones share a line).
        :raises JinaInputError: If a Document has nothing to embed, or there are over 50,000 lines.
        """
        check_documents(documents, "JinaBatchDocumentEmbedder")
        plan = self._plan(documents, raise_on_failure=True)
        if not plan.texts or len(plan.texts) > MAX_URL_INPUTS:
            msg = f"An input_url file holds 1 to {MAX_URL_INPUTS:,} lines; these Documents make {len(plan.texts):,}."
            raise JinaInputError(msg)
        target = Path(path)
        with target.open("w", encoding="utf-8") as file:
            for line, text in plan.texts.items():
                file.write(json.dumps(batch_api.input_line(line, text), ensure_ascii=False) + "\n")
        _check_input_file(target, plan)
        return {"path": str(target), "lines": len(plan.texts)}

    # ------------------------------------------------------------------ the work
    def _text(self, document: Document) -> str:
        return text_to_embed(document, self.meta_fields_to_embed, self.embedding_separator, self.prefix, self.suffix)

    def _plan(self, documents: list[Document], *, raise_on_failure: bool) -> Plan:
        plan = Plan(line_ids=[], texts={})
        for position, document in enumerate(documents):
            try:
                text = self._text(document)
            except JinaInputError as error:
                if raise_on_failure:
                    raise
                plan.line_ids.append(None)
                plan.input_errors[position] = str(error)
                continue
            line = batch_api.custom_id(document.id, text)
            plan.line_ids.append(line)
            plan.texts.setdefault(line, text)
        return plan

    def _settings(self) -> Settings:
        options = {
            "task": self.task,
            "dimensions": self.dimensions,
            "normalized": self.normalized,
            "webhook_url": self.webhook_url,
        }
        return Settings(
            base_url=self.base_url,
            model=self.model,
            options=options,
            vector_length=self.dimensions or EMBEDDING_MODELS[self.model].native_dimensions,
            poll_interval=self.poll_interval,
            max_wait=self.max_wait,
            cancel_on_exit=self.cancel_on_exit,
            progress_bar=self.progress_bar,
        )

    async def _work(
        self, documents: list[Document], *, submit: bool, wait: bool, input_url: str | None = None
    ) -> dict[str, Any]:
        check_documents(documents, "JinaBatchDocumentEmbedder", "To embed a single string, use JinaTextEmbedder.")
        plan = self._plan(documents, raise_on_failure=self.raise_on_failure)
        settings = self._settings()
        store = JobStore(self.job_store)
        # the webhook is not part of what the jobs compute: it may change between submit and collect
        stored = {"endpoint": self.base_url, "model": self.model, "task": self.task, "dimensions": self.dimensions}
        store.open({**stored, "normalized": self.normalized}, plan.texts)
        batch = BatchRun(self._client, store, settings)
        try:
            submitted = await batch.submit(plan, input_url) if submit else []
            if not submit and len(store.known()) < len(plan.texts):
                msg = (
                    f"{len(plan.texts) - len(store.known())} of the Documents are in no job of the job store "
                    f"{self.job_store}: submit them first (submit or run)."
                )
                raise JinaBatchStoreError(msg)
            if not wait:
                return {"batch_ids": [job.batch_id for job in store.jobs], "submitted": submitted}
            statuses = await batch.wait()
            results, ended = await batch.collect(statuses)
        except BaseException:
            if self.cancel_on_exit:
                await batch.cancel_unfinished()
            raise
        if ended and self.raise_on_failure:
            if len(ended) > 1:
                ended[0].args = (f"{ended[0]} ({len(ended) - 1} more jobs ended without output too)",)
            raise ended[0]
        return self._answer(documents, plan, results, list(statuses))

    def _answer(
        self, documents: list[Document], plan: Plan, results: JobResults, batch_ids: list[str]
    ) -> dict[str, Any]:
        for problem in results.problems[:LOGGED_PROBLEMS]:
            logger.warning("Batch output: {problem}", problem=problem)
        if len(results.problems) > LOGGED_PROBLEMS:
            more = len(results.problems) - LOGGED_PROBLEMS
            logger.warning("Batch output: {more} more problems, in meta['problems']", more=more)
        output, failures = assemble(documents, plan, results)
        if failures and self.raise_on_failure:
            first = next(iter(failures))
            msg = (
                f"{len(failures)} of {len(documents)} Documents got no embedding; the first, {documents[first].id}: "
                f"{failures[first]}. The jobs' results stay collectable: run with raise_on_failure=False to get the "
                f"others (the job store, if any, keeps them from being submitted again)."
            )
            raise JinaError(msg)
        meta: dict[str, Any] = {
            "model": results.model or self.model,
            "usage": results.usage,
            "batch_ids": batch_ids,
            "problems": results.problems,
        }
        if not self.raise_on_failure:
            meta["failed_documents"] = [{"id": documents[p].id, "error": error} for p, error in failures.items()]
        return {"documents": output, "meta": meta}


def _check_input_file(path: Path, plan: Plan) -> None:
    """Read the written file back: every line JSON, each custom_id once, the texts as planned."""
    seen: set[str] = set()
    with path.open(encoding="utf-8") as file:
        for number, raw in enumerate(file, start=1):
            line = json.loads(raw)
            line_id = line.get("custom_id")
            if line_id in seen or plan.texts.get(line_id) != line.get("body", {}).get("input"):
                msg = f"{path}: line {number} does not match the Documents (custom_id {line_id!r})."
                raise JinaInputError(msg)
            seen.add(line_id)
    if len(seen) != len(plan.texts):
        msg = f"{path} has {len(seen)} lines for {len(plan.texts)} Documents' lines."
        raise JinaInputError(msg)
