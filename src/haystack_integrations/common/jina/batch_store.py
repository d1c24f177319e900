"""The job store of `JinaBatchDocumentEmbedder`: which batch jobs hold which Documents, kept across runs.

A small JSON file, rewritten atomically (a temporary file, then `os.replace`) after every change:

    {
      "format": "jina-haystack batch jobs 1",
      "settings": {"endpoint": ..., "model": ..., "task": ..., "dimensions": ..., "normalized": ...},
      "jobs": [{"batch_id": "batch_...", "custom_ids": ["doc-...", ...], "saved_at": "2026-..."}],
      "ended": [{"batch_id": ..., "status": "expired", "lines": 10000}]
    }

A job is recorded as soon as the server has accepted it, before any polling, so a run interrupted
anywhere after that (Ctrl-C, a crash, `max_wait`) and started again on the same Documents finds it
instead of submitting (and paying for) it again. A job that ended without output (failed, expired,
cancelled, or forgotten by the server) moves to `ended`, so the next run submits its Documents anew.

The store is never guessed at: a file that is not this format, whose settings differ, or that holds
lines of other Documents raises `JinaBatchStoreError` instead of being reused. One run at a time per file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from haystack_integrations.common.jina.errors import JinaError

FORMAT = "jina-haystack batch jobs 1"


class JinaBatchStoreError(JinaError, ValueError):
    """The job store cannot be used for this run: corrupt, or made for other Documents or settings."""


@dataclass(frozen=True)
class StoredJob:
    batch_id: str
    custom_ids: tuple[str, ...]


class JobStore:
    """
    The jobs of one corpus. With `path=None` it lives in memory only (a run that is not resumable).

    :param path: The JSON file; created on the first submitted job, its directory must exist.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self.settings: dict[str, Any] = {}
        self.jobs: list[StoredJob] = []
        self.ended: list[dict[str, Any]] = []

    def open(self, settings: Mapping[str, Any], wanted: Iterable[str]) -> None:
        """
        Load the file (if any) for a run on the Documents whose custom_ids are `wanted`, with `settings`.

        :raises JinaBatchStoreError: If the file is corrupt, has other settings, or holds other Documents.
        """
        self.settings, self.jobs, self.ended = dict(settings), [], []
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise self._corrupt(f"it cannot be read as JSON ({type(error).__name__})") from None
        self.jobs, self.ended = self._parse(data)
        if data["settings"] != self.settings:
            changed = sorted(
                k for k in {*data["settings"], *self.settings} if data["settings"].get(k) != settings.get(k)
            )
            msg = (
                f"Job store {self.path} was made with other settings ({', '.join(changed)} differ: stored "
                f"{ {k: data['settings'].get(k) for k in changed} }, now { {k: settings.get(k) for k in changed} }). "
                f"Use another job_store for these settings; this one's jobs are still collectable with the old ones."
            )
            raise JinaBatchStoreError(msg)
        wanted_ids = set(wanted)
        for job in self.jobs:
            foreign = [line for line in job.custom_ids if line not in wanted_ids]
            if foreign:
                msg = (
                    f"Job store {self.path} belongs to other Documents: its job {job.batch_id} holds "
                    f"{len(foreign)} line(s) (e.g. custom_id {foreign[0]}) that are not among the Documents given. "
                    f"Run with the Documents it was made for, or use another job_store (delete this one only once "
                    f"its jobs are collected, or their results are lost)."
                )
                raise JinaBatchStoreError(msg)

    def known(self) -> set[str]:
        """The custom_ids some stored job holds."""
        return {line for job in self.jobs for line in job.custom_ids}

    def add(self, batch_id: str, custom_ids: Iterable[str]) -> None:
        """Record a job the server accepted (written at once)."""
        self.jobs.append(StoredJob(batch_id, tuple(custom_ids)))
        self._save()

    def drop(self, batch_id: str, status: str) -> None:
        """A job ended without output: the next run submits its Documents again."""
        job = next((job for job in self.jobs if job.batch_id == batch_id), None)
        if job is None:
            return
        self.jobs.remove(job)
        self.ended.append({"batch_id": batch_id, "status": status, "lines": len(job.custom_ids)})
        self._save()

    # ------------------------------------------------------------------ the file
    def _corrupt(self, why: str) -> JinaBatchStoreError:
        msg = (
            f"Job store {self.path} is corrupt: {why}. It is not reused, since which jobs it meant cannot be known. "
            f"Its jobs keep running and are listed by GET /v1/batches; move the file aside to start over "
            f"(that submits, and bills, the Documents again)."
        )
        return JinaBatchStoreError(msg)

    def _parse(self, data: Any) -> tuple[list[StoredJob], list[dict[str, Any]]]:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self._corrupt(f'it is not a job store of this package (no "format": {FORMAT!r})')
        if not isinstance(data.get("settings"), dict) or not isinstance(data.get("jobs"), list):
            raise self._corrupt("'settings' or 'jobs' is missing")
        jobs = []
        for position, job in enumerate(data["jobs"]):
            ids = job.get("custom_ids") if isinstance(job, dict) else None
            if (
                not isinstance(job, dict)
                or not isinstance(job.get("batch_id"), str)
                or not isinstance(ids, list)
                or not all(isinstance(line, str) for line in ids)
            ):
                raise self._corrupt(f"jobs[{position}] is not {{'batch_id': str, 'custom_ids': [str, ...]}}")
            jobs.append(StoredJob(job["batch_id"], tuple(ids)))
        ended = data.get("ended", [])
        return jobs, ended if isinstance(ended, list) else []

    def _save(self) -> None:
        if self.path is None:
            return
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = {
            "format": FORMAT,
            "settings": self.settings,
            "jobs": [{"batch_id": j.batch_id, "custom_ids": list(j.custom_ids), "saved_at": now} for j in self.jobs],
            "ended": self.ended,
        }
        handle, temporary = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
