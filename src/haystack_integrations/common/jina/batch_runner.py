"""Submitting, waiting for and collecting the batch jobs of one corpus (for `JinaBatchDocumentEmbedder`).

Pure decisions are kept apart from I/O: `next_poll_delay` is a function of the attempt and a random draw,
and `assemble` turns results into Documents. The I/O goes through `batch_api` and the shared `JinaClient`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from haystack import Document, logging

from haystack_integrations.common.jina import batch_api
from haystack_integrations.common.jina.batch_api import JinaBatchJobError, JobResults
from haystack_integrations.common.jina.batch_store import JobStore, StoredJob
from haystack_integrations.common.jina.batches import gather_ordered, progress
from haystack_integrations.common.jina.embeddings import Embedding, add_usage, embedded_copy
from haystack_integrations.common.jina.errors import (
    JinaConnectionError,
    JinaError,
    JinaRateLimitError,
    JinaServerError,
)
from haystack_integrations.common.jina.http.client import JinaClient

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The poll interval grows by this factor per poll, up to `POLL_GROWTH_CAP` times the configured one.
POLL_GROWTH = 1.15
POLL_GROWTH_CAP = 1.8
#: Each wait is the interval times a draw from [1 - JITTER, 1 + JITTER], so many jobs do not poll in step.
JITTER = 0.1


def next_poll_delay(interval: float, attempt: int, draw: float) -> float:
    """
    Seconds before poll `attempt + 1`: `interval`, growing slowly with the attempts (at most 1.8x), with jitter.

    With the default 15 s every wait falls within Jina's advice of 10 to 30 s (13.5 s to 29.7 s).

    :param draw: A random number in [0, 1) (given, so the decision is testable without a clock).
    """
    growth = min(POLL_GROWTH_CAP, POLL_GROWTH**attempt)
    return interval * growth * (1 - JITTER + 2 * JITTER * draw)


@dataclass
class Plan:
    """What one run works on: the Documents' line ids (by position) and the texts of the distinct lines."""

    line_ids: list[str | None]  # None: the Document had an input error (its message in `input_errors`)
    texts: dict[str, str]  # custom_id -> text, in first-seen order
    input_errors: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """A run's fixed settings (what the job store checks, and what polling needs)."""

    base_url: str
    model: str
    options: Mapping[str, Any]  # task, dimensions, normalized, webhook_url (None: not sent)
    vector_length: int | None
    poll_interval: float
    max_wait: float
    cancel_on_exit: bool
    progress_bar: bool


class BatchRun:
    """One run of submit / wait / collect over a job store."""

    def __init__(self, client: JinaClient, store: JobStore, settings: Settings) -> None:
        self.client = client
        self.store = store
        self.settings = settings

    # ------------------------------------------------------------------ submit
    async def submit(self, plan: Plan, input_url: str | None = None) -> list[str]:
        """Submit the lines no stored job holds, in jobs of at most 10,000 (or one `input_url` job); their ids."""
        known = self.store.known()
        missing = [line for line in plan.texts if line not in known]
        if not missing:
            return []
        chunks = _job_chunks(missing, len(plan.texts), input_url)

        async def one(chunk: list[str]) -> str:
            lines = None if input_url else [batch_api.input_line(line, plan.texts[line]) for line in chunk]
            body = batch_api.request_body(self.settings.model, self.settings.options, lines=lines, input_url=input_url)
            accepted = await batch_api.submit(self.client, self.settings.base_url, body)
            self.store.add(accepted.batch_id, chunk)  # recorded before anything else can go wrong
            return accepted.batch_id

        outcomes = await gather_ordered(one, chunks, fail_fast=True)
        return [outcome for outcome in outcomes if isinstance(outcome, str)]

    # ------------------------------------------------------------------ wait
    async def wait(self) -> dict[str, batch_api.BatchStatus]:
        """Poll every stored job until it has ended (or `max_wait` passes); their final statuses."""
        jobs = list(self.store.jobs)
        deadline = time.monotonic() + self.settings.max_wait
        done: dict[str, int] = {}
        total = sum(len(job.custom_ids) for job in jobs)
        with progress(total, enabled=self.settings.progress_bar, desc="Batch embedding") as advance:

            def seen(batch_id: str, count: int) -> None:
                advance(max(0, count - done.get(batch_id, 0)))
                done[batch_id] = max(count, done.get(batch_id, 0))

            outcomes = await gather_ordered(lambda job: self._follow(job, deadline, seen), jobs, fail_fast=True)
        return {status.batch_id: status for status in outcomes if isinstance(status, batch_api.BatchStatus)}

    async def _follow(self, job: StoredJob, deadline: float, seen: Callable[[str, int], None]) -> batch_api.BatchStatus:
        attempt = 0
        while True:
            try:
                status = await batch_api.status(self.client, self.settings.base_url, job.batch_id)
            except JinaError as error:
                if error.status_code == 404:
                    self.store.drop(job.batch_id, "not found")
                    raise _unknown_to_server(job, error) from None
                if not isinstance(error, JinaConnectionError | JinaServerError | JinaRateLimitError):
                    raise
                # the client's own retries did not help: the job runs on regardless, so keep polling
                logger.warning("Polling batch job {id} failed, will poll again: {error}", id=job.batch_id, error=error)
                status = None
            if status is not None:
                seen(job.batch_id, status.done)
                if status.terminal:
                    return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _still_running(job, status, self.settings.max_wait, self.store.path)
            delay = next_poll_delay(self.settings.poll_interval, attempt, random.random())
            await asyncio.sleep(min(delay, remaining))
            attempt += 1

    # ------------------------------------------------------------------ collect
    async def collect(
        self, statuses: Mapping[str, batch_api.BatchStatus]
    ) -> tuple[JobResults, list[JinaBatchJobError]]:
        """
        Download and match the results of every completed job.

        One job's files are read (in a worker thread: parsing 10,000 lines takes a second or two, and must not
        hold up other requests on the loop) while the next job's download runs: at most two jobs' files are
        in memory at once, whatever the number of jobs.
        """
        merged = JobResults()
        ended: list[JinaBatchJobError] = []
        completed: list[StoredJob] = []
        for job in list(self.store.jobs):
            status = statuses[job.batch_id]
            if status.status == "completed":
                completed.append(job)
            else:
                ended.append(self._ended(job, status, merged))
        fetches = iter(completed)
        upcoming = _start(self._files(statuses, next(fetches, None)))
        try:
            for job in completed:
                output, errors = await upcoming
                upcoming = _start(self._files(statuses, next(fetches, None)))
                endpoint = batch_api.jobs_url(self.settings.base_url, job.batch_id, "output")
                results = await asyncio.to_thread(
                    batch_api.read_results,
                    job.batch_id,
                    output,
                    errors,
                    job.custom_ids,
                    self.settings.vector_length,
                    endpoint,
                )
                del output, errors
                merged.vectors.update(results.vectors)
                merged.errors.update(results.errors)
                merged.problems += results.problems
                merged.model = merged.model or results.model
                add_usage(merged.usage, results.usage)
        finally:
            upcoming.cancel()
            if upcoming.done() and not upcoming.cancelled():
                upcoming.exception()  # retrieved: a failed prefetch nobody awaits is no "never retrieved" warning
        return merged, ended

    async def _files(self, statuses: Mapping[str, batch_api.BatchStatus], job: StoredJob | None) -> tuple[bytes, bytes]:
        """A job's output and error files (the error file only when the job says lines failed)."""
        if job is None:
            return b"", b""
        output = await batch_api.download(self.client, self.settings.base_url, job.batch_id, "output")
        errors = b""
        if statuses[job.batch_id].failed:
            errors = await batch_api.download(self.client, self.settings.base_url, job.batch_id, "errors")
        return output, errors

    def _ended(self, job: StoredJob, status: batch_api.BatchStatus, merged: JobResults) -> JinaBatchJobError:
        """A job that ended without output: its lines fail, and the store forgets it so the next run resubmits."""
        self.store.drop(job.batch_id, status.status)
        why = f": {status.error}" if status.error else ""
        message = (
            f"Batch job {job.batch_id} ended {status.status}{why}. Run again with the same job_store to submit its "
            f"{len(job.custom_ids)} Documents anew (completed jobs are collected, not resubmitted)."
        )
        merged.errors.update(dict.fromkeys(job.custom_ids, message))
        return JinaBatchJobError(message, batch_id=job.batch_id, status=status.status)

    async def cancel_unfinished(self) -> None:
        """Cancel the stored jobs that have not ended (best effort) and forget them (`cancel_on_exit`)."""
        for job in list(self.store.jobs):
            try:
                await batch_api.cancel(self.client, self.settings.base_url, job.batch_id)
            except JinaError as error:  # already ended (409) or unreachable: nothing more to do here
                logger.info("Could not cancel batch job {id}: {error}", id=job.batch_id, error=error)
                continue
            self.store.drop(job.batch_id, "cancelled")


def _job_chunks(missing: list[str], total: int, input_url: str | None) -> list[list[str]]:
    """The lines to submit as jobs: at most 10,000 each inline, or all of them as one `input_url` job."""
    if input_url is None:
        size = batch_api.MAX_INLINE_INPUTS
        return [missing[start : start + size] for start in range(0, len(missing), size)]
    if len(missing) != total:
        msg = (
            f"input_url is for all {total} lines, but {total - len(missing)} are already in jobs of the job "
            f"store: submit without input_url to send only the {len(missing)} others inline."
        )
        raise ValueError(msg)
    return [missing]


def _unknown_to_server(job: StoredJob, error: JinaError) -> JinaBatchJobError:
    msg = (
        f"Batch job {job.batch_id} ({len(job.custom_ids)} Documents) is in the job store but the "
        f"server does not know it (HTTP 404: deleted, or older than its 24 h window). It is removed "
        f"from the store: run again to submit its Documents anew."
    )
    return JinaBatchJobError(msg, batch_id=job.batch_id, status_code=404, endpoint=error.endpoint)


def _still_running(
    job: StoredJob, status: batch_api.BatchStatus | None, max_wait: float, store_path: Path | None
) -> JinaBatchJobError:
    where = f"; run again with job_store={store_path!s}" if store_path else ""
    msg = (
        f"Batch job {job.batch_id} is still {status.status if status else 'unreachable'} after "
        f"max_wait={max_wait:g} s. It keeps running on Jina's side{where} to resume "
        f"(nothing is submitted twice)."
    )
    return JinaBatchJobError(msg, batch_id=job.batch_id, status=status.status if status else None)


def assemble(documents: Sequence[Document], plan: Plan, results: JobResults) -> tuple[list[Document], dict[int, str]]:
    """Every input Document, in order: with its line's vector, or without one and with the reason in the map."""
    output: list[Document] = []
    failures: dict[int, str] = {}
    for position, document in enumerate(documents):
        line = plan.line_ids[position]
        vector: Embedding | None = results.vectors.get(line) if line is not None else None
        if vector is not None:
            output.append(embedded_copy(document, vector))
            continue
        failures[position] = plan.input_errors.get(position) or results.errors.get(
            line or "", f"no result for custom_id {line}"
        )
        output.append(replace(document, embedding=None, meta=document.meta.copy()))
    return output, failures


def _start(work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """`work` running now, in the background (awaited later, or cancelled)."""
    return asyncio.ensure_future(work)
