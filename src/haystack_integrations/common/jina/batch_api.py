"""Jina's Batch API on the wire: request bodies, `BatchStatus`, result lines, and the calls (through `JinaClient`).

From the spec (both reference versions): `POST /v1/batch/embeddings` takes a `BatchEmbeddingRequest`
(`model`: v5-text nano or small; inline `input` lines `{"custom_id", "body": {"input"}}`, up to 10,000,
or an `input_url` JSONL, up to 50,000; `task`, `dimensions`, `normalized`, `webhook_url`) and answers a
`BatchStatus`; `GET /v1/batch/{id}` polls it; `/output` and `/errors` stream JSONL; `DELETE` cancels.

What the spec leaves open, and what this module assumes:
- The output line format. Read: OpenAI's batch shape (the one Jina's guide shows),
  `{"custom_id", "response": {"status_code", "body": {"data": [{"embedding", "index"}], "model", "usage"}}}`,
  and a flat `{"custom_id", "embedding"}`. An error line is one with an `error`, or a `response` whose
  `status_code` is not 2xx. Any other line is an error quoting its keys.
- The order of lines: none is assumed. Results are matched by `custom_id`, never by position.
- Where the files are: they are downloaded from `GET /v1/batch/{id}/output` and `/errors` on the API, with
  the key. If that answers a redirect (to a signed URL, maybe on another host), the redirect is followed
  WITHOUT the key: a signed URL carries its own credential, and the key must not reach a storage host.
  The status's `output_url` is not used directly, for the same reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin

from haystack_integrations.common.jina.embeddings import (
    Embedding,
    add_usage,
    checked_vector,
    clean_usage,
    is_finite_number,
)
from haystack_integrations.common.jina.endpoints import called_endpoint
from haystack_integrations.common.jina.errors import JinaError, JinaMalformedResponseError
from haystack_integrations.common.jina.http.client import JinaClient

BATCH_MODELS = ("jina-embeddings-v5-text-nano", "jina-embeddings-v5-text-small")
#: The spec's `task` description: "retrieval, text-matching, clustering, or classification".
BATCH_TASKS = ("retrieval", "text-matching", "clustering", "classification")
MAX_INLINE_INPUTS = 10_000
MAX_URL_INPUTS = 50_000
MAX_DIMENSIONS = 1024
STATUSES = ("pending", "processing", "completed", "failed", "expired", "cancelled")
ENDED = ("failed", "expired", "cancelled")
TERMINAL = ("completed", *ENDED)


class JinaBatchJobError(JinaError):
    """A batch job failed, expired, was cancelled, is unknown to the server, or was not done in time."""

    def __init__(self, message: str, *, batch_id: str, status: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.batch_id = batch_id
        self.status = status


def custom_id(document_id: str, text: str) -> str:
    """
    A Document's line id: the same for the same Document and text, so a restarted run finds its jobs.

    The text (with meta fields, prefix, suffix) is part of it: the same Document embedded differently is
    another line. Identical Documents share one line (and one result).
    """
    digest = hashlib.sha256(f"{document_id}\x00{text}".encode()).hexdigest()
    return f"doc-{digest[:32]}"


def input_line(line_id: str, text: str) -> dict[str, Any]:
    """One input line, as the spec's example shows it."""
    return {"custom_id": line_id, "body": {"input": text}}


def request_body(
    model: str,
    options: Mapping[str, Any],
    *,
    lines: Sequence[Mapping[str, Any]] | None = None,
    input_url: str | None = None,
) -> dict[str, Any]:
    """A `BatchEmbeddingRequest`: `model`, `input` or `input_url`, and the options that are set."""
    body: dict[str, Any] = {"model": model}
    if input_url is not None:
        body["input_url"] = input_url
    else:
        body["input"] = list(lines or [])
    body.update({name: value for name, value in options.items() if value is not None})
    return body


def jobs_url(base_url: str, *parts: str) -> str:
    """`{base_url}/v1/batch/...` (`base_url` an origin, like `JINA_API_BASE_URL`)."""
    path = "/".join(quote(part, safe="") for part in parts)
    return f"{base_url.rstrip('/')}/v1/batch/{path}" if parts else f"{base_url.rstrip('/')}/v1/batch/embeddings"


@dataclass(frozen=True)
class BatchStatus:
    """What `GET /v1/batch/{id}` says about a job (the fields this package reads)."""

    batch_id: str
    status: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    total_tokens: int = 0
    error: str | None = None
    expires_at: str | None = None

    @property
    def done(self) -> int:
        return self.completed + self.failed

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def parse_status(body: Any, endpoint: str) -> BatchStatus:
    """A `BatchStatus` answer, checked: `batch_id` and a known `status` are required, `stats` numbers or absent."""
    if not isinstance(body, dict) or not isinstance(body.get("batch_id"), str) or not body["batch_id"]:
        raise JinaMalformedResponseError(f"Malformed batch status from {endpoint}: no batch_id", endpoint=endpoint)
    status = body.get("status")
    if status not in STATUSES:
        message = f"Malformed batch status from {endpoint}: status {status!r} is not one of {', '.join(STATUSES)}"
        raise JinaMalformedResponseError(message, endpoint=endpoint)
    stats: dict[str, Any] = body["stats"] if isinstance(body.get("stats"), dict) else {}
    counts = {key: int(value) for key, value in stats.items() if is_finite_number(value) and value >= 0}
    error = body.get("error")
    expires = body.get("expires_at")
    return BatchStatus(
        batch_id=body["batch_id"],
        status=status,
        total=counts.get("total", 0),
        completed=counts.get("completed", 0),
        failed=counts.get("failed", 0),
        total_tokens=counts.get("total_tokens", 0),
        error=error[:500] if isinstance(error, str) else None,
        expires_at=expires if isinstance(expires, str) else None,
    )


# ---------------------------------------------------------------------- calls
async def submit(client: JinaClient, base_url: str, body: Mapping[str, Any]) -> BatchStatus:
    """Submit a job. Not idempotent: a retry after a 5xx or a timeout might create (and bill) a second job."""
    url = jobs_url(base_url)
    return parse_status(await client.post_json_async(url, body, idempotent=False), called_endpoint(url))


async def status(client: JinaClient, base_url: str, batch_id: str) -> BatchStatus:
    url = jobs_url(base_url, batch_id)
    answer = await client.send("GET", url)
    return parse_status(_json(answer.content, url), called_endpoint(url))


async def cancel(client: JinaClient, base_url: str, batch_id: str) -> None:
    await client.send("DELETE", jobs_url(base_url, batch_id))


async def download(client: JinaClient, base_url: str, batch_id: str, what: str) -> bytes:
    """The JSONL of a completed job's `output` or `errors` (a redirect to a signed URL is followed without the key)."""
    url = jobs_url(base_url, batch_id, what)
    answer = await client.send("GET", url, allow_redirects=False)
    for _ in range(5):
        location = answer.headers.get("Location")
        if not 300 <= answer.status_code < 400 or not location:
            break
        url = urljoin(answer.url, location)
        answer = await client.send("GET", url, allow_redirects=False, credentials=False)
    if not 200 <= answer.status_code < 300:
        endpoint = called_endpoint(url)
        raise JinaError(f"Batch {what} of {batch_id}: HTTP {answer.status_code} from {endpoint}", endpoint=endpoint)
    return answer.content


def _json(content: bytes, url: str) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        endpoint = called_endpoint(url)
        raise JinaMalformedResponseError(f"Batch status from {endpoint} is not JSON", endpoint=endpoint) from None


# ---------------------------------------------------------------------- result lines
@dataclass
class JobResults:
    """One job's results by `custom_id`, and what could not be assigned."""

    vectors: dict[str, Embedding] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: lines that name no custom_id of the job, or name one twice: reported, never assigned
    problems: list[str] = field(default_factory=list)
    model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


def read_results(
    batch_id: str, output: bytes, errors: bytes, expected: Sequence[str], length: int | None, endpoint: str
) -> JobResults:
    """
    Match a job's output and error lines to its `expected` custom_ids.

    A vector is checked like an answer of `/v1/embeddings` (numbers or base64, finite, `length` values, one per
    line). A line whose custom_id the job did not send is reported; a custom_id seen twice fails (which one is
    right cannot be known); a custom_id with no line fails. Nothing is ever assigned by position.
    """
    wanted = set(expected)
    results = JobResults()
    seen: set[str] = set()
    for number, raw in enumerate((*output.splitlines(), *errors.splitlines()), start=1):
        if not raw.strip():
            continue
        line_id, vector, error, line_model, usage = _read_line(raw, batch_id, number, length, endpoint)
        if line_id is None:  # nothing to match it by: reported, with what the line holds instead
            results.problems.append(f"job {batch_id}: {error or f'line {number} has no custom_id'}")
            continue
        if line_id not in wanted:
            results.problems.append(f"job {batch_id}: a line for custom_id {line_id!r}, which the job did not send")
            continue
        if line_id in seen:
            results.problems.append(f"job {batch_id}: custom_id {line_id!r} has more than one line")
            results.vectors.pop(line_id, None)
            results.errors[line_id] = f"batch job {batch_id} returned more than one line for it"
            continue
        seen.add(line_id)
        if vector is not None:
            results.vectors[line_id] = vector
        else:
            results.errors[line_id] = f"batch job {batch_id}: {error}"
        results.model = results.model or line_model
        add_usage(results.usage, usage)
    unread = ""
    if results.problems:
        unread = f" ({len(results.problems)} line(s) could not be matched; the first: {results.problems[0]})"
    for line_id in wanted - seen:
        results.errors[line_id] = f"batch job {batch_id} returned no output or error line for it{unread}"
    return results


def _read_line(
    raw: bytes, batch_id: str, number: int, length: int | None, endpoint: str
) -> tuple[str | None, Embedding | None, str, str | None, dict[str, int]]:
    """(custom_id, vector or None, error text, model, usage) of one line."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None, None, f"line {number} is not JSON", None, {}
    if not isinstance(line, dict):
        return None, None, f"line {number} is not a JSON object", None, {}
    line_id = line.get("custom_id") if isinstance(line.get("custom_id"), str) else None
    if line_id is None:
        keys = ", ".join(sorted(map(str, line)))
        return None, None, f"line {number} has no custom_id: its keys are [{keys}]", None, {}
    try:
        if "response" in line:
            return (line_id, *_read_response(line, length, batch_id, endpoint))
        if "embedding" in line:
            return line_id, _vector(line["embedding"], length, batch_id, endpoint), "", None, {}
    except JinaMalformedResponseError as error:  # this line's vector is bad: its Document fails, not the job
        return line_id, None, str(error), None, {}
    if "error" in line:
        return line_id, None, _error_text(line["error"]), None, {}
    keys = ", ".join(sorted(map(str, line)))
    problem = (
        f"line {number} has the keys [{keys}]; expected OpenAI's batch shape "
        "{custom_id, response: {status_code, body: {data: [{embedding}]}}} or {custom_id, embedding}"
    )
    return line_id, None, problem, None, {}


def _read_response(
    line: dict[str, Any], length: int | None, batch_id: str, endpoint: str
) -> tuple[Embedding | None, str, str | None, dict[str, int]]:
    response: dict[str, Any] = line["response"] if isinstance(line["response"], dict) else {}
    code = response.get("status_code")
    body: dict[str, Any] = response["body"] if isinstance(response.get("body"), dict) else {}
    if line.get("error") or not (isinstance(code, int) and 200 <= code < 300):
        detail = _error_text(line.get("error")) or _error_text(body.get("detail") or body.get("error"))
        return None, f"HTTP {code}: {detail or 'no detail'}", None, {}
    data = body.get("data")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict) or data[0].get("index", 0) != 0:
        count = len(data) if isinstance(data, list) else "no"
        return None, f"{count} vectors in its response for 1 input", None, {}
    vector = _vector(data[0].get("embedding"), length, batch_id, endpoint)
    model = body.get("model") if isinstance(body.get("model"), str) else None
    return vector, "", model, clean_usage(body.get("usage"))


def _vector(raw: Any, length: int | None, batch_id: str, endpoint: str) -> Embedding:
    def malformed(problem: str) -> JinaMalformedResponseError:
        message = f"Malformed line in the output of batch job {batch_id} ({endpoint}): {problem}"
        return JinaMalformedResponseError(message, endpoint=endpoint)

    return checked_vector(raw, length, malformed)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        parts = [str(error[key]) for key in ("code", "message") if error.get(key)]
        return ": ".join(parts)[:500] or json.dumps(error)[:500]
    return str(error)[:500] if error else ""
