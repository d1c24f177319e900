"""The Batch API: `POST /v1/batch/embeddings`, `GET` / `DELETE /v1/batch/{id}` (+ `/output`, `/errors`), `/v1/batches`.

Validated against `BatchEmbeddingRequest` (both spec versions), stricter where the spec is loose:
- `model` is one of the schema's enum (v5-text nano / small); unknown fields are refused (422);
- exactly one of `input` (inline lines, at most 10,000) and `input_url` (http(s) JSONL the emulator can
  fetch, at most 50,000 lines; it cannot reach GCS or S3, so `gs://` / `s3://` are refused);
- every line is `{"custom_id": <non-empty string, unique in the job>, "body": {"input": <non-empty
  string>}}` (the spec's example; it says no more);
- `task` one of the four the spec names, `dimensions` 1..the model's size, `normalized` a boolean,
  `webhook_url` an http(s) URL.

The output and error line formats are not in the spec. The emulator writes OpenAI's batch shape (the one
Jina's guide shows), with the lines SHUFFLED, since the spec promises no order:
`{"custom_id", "response": {"status_code": 200, "body": {"object", "data": [{"object", "index": 0,
"embedding": [...]}], "model", "usage"}}}`; an error line is `{"custom_id", "response": {"status_code":
500, "body": {"detail"}}, "error": {"code", "message"}}` (an assumption shaped like OpenAI's error file).
Downloading a job that has not completed answers 409 (assumed: the spec says "for a completed batch job").
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from haystack_integrations.common.jina.models import EMBEDDING_MODELS
from haystack_integrations.testing.jina import vectors
from haystack_integrations.testing.jina.batch_jobs import TERMINAL, Job, shuffled
from haystack_integrations.testing.jina.server import ApiError, JinaEmulator, RecordedRequest, Reply, json_body, route

BATCH_MODELS = ("jina-embeddings-v5-text-nano", "jina-embeddings-v5-text-small")
BATCH_TASKS = ("retrieval", "text-matching", "clustering", "classification")
MAX_INLINE_INPUTS = 10_000
MAX_URL_INPUTS = 50_000
FIELDS = ("model", "input", "input_url", "task", "dimensions", "normalized", "webhook_url")
#: `retrieval` embeds documents to retrieve: the emulator gives them the vectors of `retrieval.passage`, so a
#: batch vector equals the one /v1/embeddings gives the same text (the spec does not say which it is).
_VECTOR_TASKS = {"retrieval": "retrieval.passage"}
JSONL = "application/x-ndjson"  # the spec declares application/json with an empty schema; the body is JSONL


def _lines(raw: Any, limit: int, where: str) -> list[tuple[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise ApiError(422, f"{where} must be a non-empty list of lines.", field="input")
    if len(raw) > limit:
        raise ApiError(422, f"{where} has {len(raw)} lines; at most {limit:,} are allowed.", field="input")
    lines: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, line in enumerate(raw):
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        body = line.get("body") if isinstance(line, dict) else None
        text = body.get("input") if isinstance(body, dict) else None
        if not isinstance(custom_id, str) or not custom_id:
            raise ApiError(422, f"{where}[{index}] needs a non-empty string custom_id.", field=f"input.{index}")
        if custom_id in seen:
            raise ApiError(422, f"{where}[{index}]: custom_id {custom_id!r} appears twice.", field=f"input.{index}")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(422, f"{where}[{index}] needs body.input, a non-empty string.", field=f"input.{index}")
        seen.add(custom_id)
        lines.append((custom_id, text))
    return lines


def _fetch_lines(url: Any) -> list[tuple[str, str]]:
    if not isinstance(url, str) or not url:
        raise ApiError(422, "input_url must be a non-empty string.", field="input_url")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        detail = f"The emulator reads input_url over http(s) only; it cannot reach {scheme or 'this'} URLs."
        raise ApiError(422, detail, field="input_url")
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            text = answer.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ApiError(400, f"Could not read input_url: {error}") from None
    try:
        raw = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise ApiError(422, "input_url is not JSONL: a line is not JSON.", field="input_url") from None
    return _lines(raw, MAX_URL_INPUTS, "input_url")


def _options(body: dict[str, Any], model: str) -> dict[str, Any]:
    task = body.get("task")
    if task is not None and task not in BATCH_TASKS:
        raise ApiError(422, f"task must be one of {', '.join(BATCH_TASKS)}, got {task!r}.", field="task")
    dimensions = body.get("dimensions")
    native = EMBEDDING_MODELS[model].native_dimensions
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 0 < dimensions <= native
    ):
        raise ApiError(422, f"dimensions must be an integer from 1 to {native} for {model}.", field="dimensions")
    normalized = body.get("normalized")
    if normalized is not None and not isinstance(normalized, bool):
        raise ApiError(422, "normalized must be a boolean.", field="normalized")
    return {"task": task or "text-matching", "dimensions": dimensions or native, "normalized": normalized is not False}


@route("POST", "/v1/batch/embeddings")
def create(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    body = json_body(request)
    for key in body:
        if key not in FIELDS:
            raise ApiError(422, f"BatchEmbeddingRequest has no field {key!r}; it has: {', '.join(FIELDS)}.", field=key)
    model = body.get("model")
    if model not in BATCH_MODELS:
        raise ApiError(422, f"model must be one of {', '.join(BATCH_MODELS)}, got {model!r}.", field="model")
    given = [name for name in ("input", "input_url") if body.get(name) is not None]
    if len(given) != 1:
        raise ApiError(422, "Either input_url or input must be provided (exactly one).", field="input")
    options = _options(body, model)
    webhook = body.get("webhook_url")
    if webhook is not None and (
        not isinstance(webhook, str) or urllib.parse.urlsplit(webhook).scheme not in ("http", "https")
    ):
        raise ApiError(422, "webhook_url must be an http(s) URL.", field="webhook_url")
    lines = _lines(body["input"], MAX_INLINE_INPUTS, "input") if given == ["input"] else _fetch_lines(body["input_url"])
    job = emulator.batches.submit(model, lines, options, webhook, emulator.url, _make_outputs)
    return Reply(body=emulator.batches.describe(job, emulator.url))


@route("GET", "/v1/batches")
def recent(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    raw = query.get("limit", ["20"])[-1]  # the spec's default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(422, "limit must be a positive integer.", field="limit")
    return Reply(body=[emulator.batches.describe(job, emulator.url) for job in emulator.batches.recent(int(raw))])


def _job(emulator: JinaEmulator, path: str) -> tuple[Job, str]:
    """The job a `/v1/batch/{id}[/what]` path names, and `what` ("" for the status)."""
    rest = urllib.parse.urlsplit(path).path.removeprefix("/v1/batch/")
    batch_id, _, what = rest.partition("/")
    job = emulator.batches.find(urllib.parse.unquote(batch_id))
    if job is None:
        raise ApiError(404, f"Batch job {batch_id!r} not found.")
    return job, what


@route("GET", "/v1/batch/")
def status_or_files(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    job, what = _job(emulator, request.path)
    if what == "":
        return Reply(body=emulator.batches.describe(job, emulator.url))
    if what not in ("output", "errors"):
        raise ApiError(404, f"Not found: {request.path}")
    _check_completed(emulator, job)
    if emulator.batches.redirect_downloads:
        signed = emulator.batches.describe(job, emulator.url)["output_url" if what == "output" else "error_file_url"]
        return Reply(302, b"", headers={"Location": signed})
    return _file(job, what)


@route("DELETE", "/v1/batch/")
def cancel(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    job, what = _job(emulator, request.path)
    if what:
        raise ApiError(404, f"Not found: DELETE {request.path}")
    if not emulator.batches.cancel(job):
        status = emulator.batches.status(job)
        raise ApiError(409, f"Batch job {job.batch_id} is {status}; only a pending or processing job can be cancelled.")
    return Reply(body=emulator.batches.describe(job, emulator.url))


@route("GET", "/files/")
def signed_file(emulator: JinaEmulator, request: RecordedRequest) -> Reply:
    """A signed URL: it needs no key (the emulator refuses none), only the job's signature."""
    parts = urllib.parse.urlsplit(request.path)
    pieces = parts.path.split("/")  # "", "files", id, "output.jsonl"
    job = emulator.batches.find(pieces[2]) if len(pieces) == 4 else None
    signature = urllib.parse.parse_qs(parts.query).get("signature", [""])[-1]
    if job is None or signature != job.token or pieces[3] not in ("output.jsonl", "errors.jsonl"):
        raise ApiError(403, "Invalid or expired signed URL.", code="AUTHZ_INVALID_SIGNATURE")
    _check_completed(emulator, job)
    return _file(job, pieces[3].removesuffix(".jsonl"))


def _check_completed(emulator: JinaEmulator, job: Job) -> None:
    status = emulator.batches.status(job)
    if status != "completed":
        ended = " It has ended and has no output." if status in TERMINAL else ""
        raise ApiError(409, f"Batch job {job.batch_id} is {status}, not completed.{ended}")


def _file(job: Job, what: str) -> Reply:
    assert job.outputs is not None  # a completed job has its files
    return Reply(body=job.outputs[0 if what == "output" else 1], content_type=JSONL)


def _make_outputs(job: Job) -> tuple[bytes, bytes]:
    task = _VECTOR_TASKS.get(job.options["task"], job.options["task"])
    native = EMBEDDING_MODELS[job.model].native_dimensions
    dimensions = job.options["dimensions"]
    output, errors = [], []
    for custom_id, text in job.lines:
        if custom_id in job.failing:
            error = {"code": "INTERNAL_ERROR", "message": "Injected failure of this line."}
            response = {"status_code": 500, "body": {"detail": error["message"]}}
            errors.append(json.dumps({"custom_id": custom_id, "response": response, "error": error}))
            continue
        tokens = len(vectors.tokens(text))
        vector = vectors.normalize(vectors.text_vector(text, native, task)[:dimensions])
        if not job.options["normalized"]:
            vector = [x * (1.0 + tokens / 10) for x in vector]
        item = {"object": "embedding", "index": 0, "embedding": [_short(x) for x in vector]}
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        response = {"status_code": 200, "body": {"object": "list", "data": [item], "model": job.model, "usage": usage}}
        output.append(json.dumps({"custom_id": custom_id, "response": response}))
    seed = job.batch_id
    return _jsonl(shuffled(output, seed)), _jsonl(shuffled(errors, seed))


def _short(value: float) -> float:
    """About a float32's worth of digits (8 decimals of values near 1): the file is ~2x smaller than with 17."""
    return round(value, 8)


def _jsonl(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()
