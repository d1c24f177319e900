"""The emulator's Batch API jobs: their state over (simulated) time, and the test controls.

A job is `pending` for the first quarter of the processing delay, `processing` until the delay has
passed (its `stats.completed` growing with the time) and its output files are made, then `completed`.
The state is computed from the clock when asked; the files are made in a background thread from the
submission on, as a server works on a job while it is polled (with a delay of 0, a job completes as soon
as its files are ready). The webhook's one POST is the other background work.

Test controls (on `JinaEmulator.batches`):
- `delay`: seconds a job takes (the constructor's `batch_delay`, the CLI's `--batch-delay`);
- `end_next(status, error)`: the next submitted job ends `failed`, `expired` or `cancelled` instead;
- `fail_lines`: a share (0..1) of lines that fail, chosen by a hash of the `custom_id` (deterministic);
- `redirect_downloads`: `/output` and `/errors` answer 302 to the signed `output_url` / `error_file_url`,
  as a service that stores the files elsewhere may;
- `forget(batch_id)`: the job is gone (a 404 for a job the client still knows).
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

#: What the spec calls the output's lifetime ("created_at + 24h").
EXPIRY = timedelta(hours=24)
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class Job:
    """One submitted job: its lines, settings and what happened to it."""

    batch_id: str
    model: str
    lines: list[tuple[str, str]]  # (custom_id, text)
    options: dict[str, Any]
    created: float
    created_at: datetime
    webhook_url: str | None = None
    base_url: str = ""  # the emulator's origin, for the signed URLs a webhook's body carries
    #: set when the job ended otherwise than by finishing its work (cancelled, failed or expired on demand)
    ended: str | None = None
    error: str | None = None
    ended_at: datetime | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    failing: frozenset[str] = frozenset()
    outputs: tuple[bytes, bytes] | None = None  # (output, errors) once made


class BatchJobs:
    """The jobs of one emulator, by id (all keys share them; the emulator checks the key, not ownership)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.fail_lines = 0.0
        self.redirect_downloads = False
        self.jobs: dict[str, Job] = {}
        self.webhooks: list[dict[str, Any]] = []  # what was POSTed to webhooks (or the error sending it)
        self._next_end: tuple[str, str | None] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ test controls
    def end_next(self, status: str, error: str | None = None) -> None:
        """The next submitted job ends with `status` (failed, expired or cancelled) once its delay has passed."""
        if status not in ("failed", "expired", "cancelled"):
            msg = f"end_next takes failed, expired or cancelled, not {status!r}"
            raise ValueError(msg)
        self._next_end = (status, error)

    def forget(self, batch_id: str) -> None:
        with self._lock:
            self.jobs.pop(batch_id, None)

    # ------------------------------------------------------------------ the routes' side
    def submit(
        self,
        model: str,
        lines: list[tuple[str, str]],
        options: dict[str, Any],
        webhook_url: str | None,
        base_url: str,
        make_outputs: Callable[[Job], tuple[bytes, bytes]],
    ) -> Job:
        now = time.monotonic()
        job = Job(
            batch_id=f"batch_{secrets.token_hex(12)}",
            model=model,
            lines=lines,
            options=options,
            created=now,
            created_at=datetime.now(timezone.utc),
            webhook_url=webhook_url,
            base_url=base_url,
            failing=frozenset(cid for cid, _ in lines if _hash_share(cid) < self.fail_lines),
        )
        planned, self._next_end = self._next_end, None
        with self._lock:
            self.jobs[job.batch_id] = job
        threading.Thread(target=self._make, args=(job, make_outputs), daemon=True).start()
        if planned is not None:
            status, error = planned
            threading.Timer(self.delay, self._end, (job, status, error)).start()
        if webhook_url:
            threading.Thread(target=self._notify, args=(job,), daemon=True).start()
        return job

    @staticmethod
    def _make(job: Job, make_outputs: Callable[[Job], tuple[bytes, bytes]]) -> None:
        job.outputs = make_outputs(job)

    def find(self, batch_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(batch_id)

    def recent(self, limit: int) -> list[Job]:
        with self._lock:
            return sorted(self.jobs.values(), key=lambda job: job.created, reverse=True)[:limit]

    def cancel(self, job: Job) -> bool:
        """Cancel a pending or processing job; `False` if it had already ended."""
        if self.status(job) in TERMINAL:
            return False
        self._end(job, "cancelled", None)
        return True

    def _end(self, job: Job, status: str, error: str | None) -> None:
        if job.ended is None:
            job.ended, job.ended_at = status, datetime.now(timezone.utc)
            job.error = error or (f"Injected failure of {job.batch_id}" if status == "failed" else None)

    def status(self, job: Job) -> str:
        if job.ended is not None:
            return job.ended
        elapsed = time.monotonic() - job.created
        if elapsed >= self.delay:
            return "completed" if job.outputs is not None else "processing"
        return "pending" if elapsed < self.delay / 4 else "processing"

    def describe(self, job: Job, base_url: str) -> dict[str, Any]:
        """The job as a `BatchStatus`."""
        status = self.status(job)
        total = len(job.lines)
        failed = len(job.failing)
        if status == "completed":
            done = total
        elif status == "processing":
            share = (time.monotonic() - job.created - self.delay / 4) / max(self.delay * 0.75, 1e-9)
            done = min(total - 1, int(total * share))  # all lines are done only when the job is
        else:
            done = 0
        failed_so_far = failed * done // total if total else 0
        body: dict[str, Any] = {
            "batch_id": job.batch_id,
            "model": job.model,
            "status": status,
            "created_at": _iso(job.created_at),
            "expires_at": _iso(job.created_at + EXPIRY),
            "completed_at": None,
            "output_url": None,
            "error_file_url": None,
            "error": job.error,
            "stats": {
                "total": total,
                "completed": done - failed_so_far,
                "failed": failed_so_far,
                "total_tokens": sum(len(text.split()) for _, text in job.lines) * done // max(total, 1),
            },
        }
        if status == "completed":
            body["completed_at"] = _iso(job.created_at + timedelta(seconds=self.delay))
            # signed URLs: they carry their own credential, and the emulator serves them without the key
            body["output_url"] = f"{base_url}/files/{job.batch_id}/output.jsonl?signature={job.token}"
            body["error_file_url"] = f"{base_url}/files/{job.batch_id}/errors.jsonl?signature={job.token}"
        elif job.ended_at is not None:
            body["completed_at"] = _iso(job.ended_at)
        return body

    def _notify(self, job: Job) -> None:
        """POST the job's status to its webhook once it has ended (the spec: "when job completes")."""
        while self.status(job) not in TERMINAL:
            time.sleep(min(0.05, self.delay / 10 or 0.01))
        body = self.describe(job, job.base_url)
        request = urllib.request.Request(
            job.webhook_url or "",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                self.webhooks.append({"url": job.webhook_url, "status": answer.status, "body": body})
        except OSError as error:
            self.webhooks.append({"url": job.webhook_url, "error": str(error), "body": body})


def shuffled(lines: list[str], seed: str) -> list[str]:
    """The lines in an order that differs from the input's (the spec promises none), the same for one job."""
    order = list(lines)
    random.Random(seed).shuffle(order)
    return order


def _hash_share(custom_id: str) -> float:
    """A number in [0, 1) fixed by the custom_id: which lines fail under `fail_lines`."""
    return int.from_bytes(hashlib.blake2b(custom_id.encode(), digest_size=8).digest(), "big") / 2**64


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
