"""Rate limits: the emulator enforces Jina's published tiers; the client paces itself to them.

Windows are shortened (a fraction of a second) so the tests stay fast; the client is told the window
length through `JINA_RATE_WINDOW`, as it assumes Jina's minute otherwise.
"""

from __future__ import annotations

import asyncio
import copy
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.common.jina import engine, ratelimit
from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.ratelimit import Limits, limiter_for, parse_limits
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder
from haystack_integrations.testing.jina import DEFAULT_API_KEY, JinaEmulator

BODY = {"model": "jina-embeddings-v3", "input": ["one two three four"]}  # 4 tokens for the emulator
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
WINDOW = 0.3


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Secret:
    monkeypatch.setenv("JINA_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("JINA_RATE_WINDOW", str(WINDOW))
    monkeypatch.delenv("JINA_RATE_LIMITS", raising=False)
    return Secret.from_env_var("JINA_API_KEY")


@pytest.fixture
def limited(request: pytest.FixtureRequest) -> Iterator[JinaEmulator]:
    """An emulator enforcing `request.param` (a dict of JinaEmulator keyword arguments)."""
    options = {"rate_window": WINDOW, **request.param}
    with JinaEmulator(**options) as emulator:
        yield emulator


def post(emulator: JinaEmulator, body: dict[str, object] = BODY) -> requests.Response:
    return requests.post(emulator.embeddings_url, json=body, headers=AUTH, timeout=10)


def refused(emulator: JinaEmulator) -> int:
    return sum(emulator.rate.refused().values())


# ---------------------------------------------------------------------- emulator
def test_tiers_are_the_published_ones() -> None:
    assert parse_limits("free") == Limits(rpm=500, tpm=1_000_000, concurrency=5)
    assert parse_limits("Tier 1") == Limits(rpm=500, tpm=10_000_000, concurrency=50)
    assert parse_limits("tier2") == Limits(rpm=5_000, tpm=100_000_000, concurrency=500)
    assert parse_limits({"rpm": 3, "concurrency": 2}) == Limits(rpm=3, concurrency=2)
    assert parse_limits("rpm=3, tpm=40") == Limits(rpm=3, tpm=40)
    for bad in ("tier9", {"rps": 1}, {"rpm": 0}):
        with pytest.raises(ValueError, match=r"[Tt]ier|[Ll]imit"):
            parse_limits(bad)


@pytest.mark.parametrize("limited", [{"limits": {"rpm": 2}, "rate_window": 30}], indirect=True)
def test_request_limit_is_refused_with_its_code_retry_after_and_headers(limited: JinaEmulator) -> None:
    first, second, third = post(limited), post(limited), post(limited)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining-Requests"] for r in (first, second, third)] == ["1", "0", "0"]
    assert third.json()["code"] == "RATE_REQUEST_LIMIT_EXCEEDED" and third.json()["request_id"]
    assert 1 <= int(third.headers["Retry-After"]) <= 30  # whole seconds until the window closes


@pytest.mark.parametrize("limited", [{"limits": {"tpm": 10}, "retry_after": False}], indirect=True)
def test_token_limit_counts_usage_and_can_omit_retry_after(limited: JinaEmulator) -> None:
    first, second, third = post(limited), post(limited), post(limited)
    assert first.json()["usage"]["total_tokens"] == 4
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining-Tokens"] for r in (first, second, third)] == ["6", "2", "2"]
    assert third.json()["code"] == "RATE_TOKEN_LIMIT_EXCEEDED"
    assert "Retry-After" not in third.headers


@pytest.mark.nonconforming  # `truncate: "yes"`, to get an error answer
@pytest.mark.parametrize("limited", [{"limits": {"rpm": 1}}], indirect=True)
def test_window_reopens_and_error_answers_carry_headers_too(limited: JinaEmulator) -> None:
    assert post(limited).status_code == 200
    assert post(limited).status_code == 429
    invalid = post(limited, {"model": "jina-embeddings-v3", "input": ["x"], "truncate": "yes"})
    assert invalid.status_code == 422 and invalid.headers["X-RateLimit-Remaining-Requests"] == "0"
    time.sleep(WINDOW)
    assert post(limited).status_code == 200
    assert [w.requests for w in limited.rate.windows()] == [1, 1]


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 2}, "latency": 0.4}], indirect=True)
def test_concurrency_limit_refuses_at_once_without_retry_after(limited: JinaEmulator) -> None:
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def send() -> None:
        response = post(limited)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refusals = [r for r in answers if r.status_code == 429]
    assert sorted(r.status_code for r in answers) == [200, 200, 429, 429]
    assert {r.json()["code"] for r in refusals} == {"RATE_CONCURRENCY_LIMIT_EXCEEDED"}
    assert all("Retry-After" not in r.headers and r.elapsed.total_seconds() < 0.3 for r in refusals)


def test_command_line_flags_enforce_limits() -> None:
    command = [sys.executable, "-m", "haystack_integrations.testing.jina", "--limits", "rpm=1", "--no-retry-after"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = (process.stdout.readline() if process.stdout else "").rsplit(" ", 1)[-1].strip()
        send = lambda: requests.post(f"{url}/v1/embeddings", json=BODY, headers=AUTH, timeout=10)  # noqa: E731
        assert send().status_code == 200
        refusal = send()
        assert refusal.status_code == 429 and "Retry-After" not in refusal.headers
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---------------------------------------------------------------------- client pacing
def call_many(client: JinaClient, url: str, count: int, body: dict[str, object] = BODY) -> list[object]:
    """`count` concurrent requests through `client`, as concurrent runs of one component would send them."""

    async def all_of_them() -> list[object]:
        return list(await asyncio.gather(*(client.post_json_async(url, body) for _ in range(count))))

    return engine.run_sync(all_of_them())


def elapsed_windows(start: float) -> int:
    return int((time.monotonic() - start) // WINDOW) + 1


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 3}, "latency": 0.05}], indirect=True)
def test_with_nothing_stated_the_bound_starts_at_five_and_settles_on_the_limit(
    limited: JinaEmulator, key: Secret
) -> None:
    limiter = limiter_for(f"Bearer {DEFAULT_API_KEY}", limited.embeddings_url)
    client = JinaClient(key, max_retries=3)
    start = time.monotonic()
    call_many(client, limited.embeddings_url, 30)
    # the first burst is 5: 2 over the limit are refused; after a quiet window one more slot is tried
    assert refused(limited) <= 2 + elapsed_windows(start)
    assert limiter.concurrency in (3, None) and limited.max_in_flight <= 5


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 3}, "latency": 0.05}], indirect=True)
def test_a_stated_max_concurrency_is_used_from_the_first_request(limited: JinaEmulator, key: Secret) -> None:
    """What the user states wins: 8 go at once (5 are refused: the key allows 3), then the key's 3."""
    limiter = limiter_for(f"Bearer {DEFAULT_API_KEY}", limited.embeddings_url)
    client = JinaClient(key, max_concurrency=8, max_retries=3)
    start = time.monotonic()
    call_many(client, limited.embeddings_url, 30)
    assert limiter.learned in (3, None)
    assert 1 <= refused(limited) <= 5 + elapsed_windows(start)


# 1 s a request: a round's 50 requests overlap at the emulator on a loaded machine, and the client's own
# time (100 calls from threads: 1.6 s once beside the suite's other lines) stays small beside a ramp's rounds
@pytest.mark.parametrize("limited", [{"latency": 1.0}], indirect=True)
def test_a_stated_max_concurrency_needs_no_ramp(limited: JinaEmulator, key: Secret) -> None:
    client = JinaClient(key, max_concurrency=50)
    start = time.monotonic()
    call_many(client, limited.embeddings_url, 100)
    assert limited.max_in_flight == 50
    assert time.monotonic() - start < 3.5  # two rounds of 1 s, not a ramp of 5, 6, 12, 24, 48 (5 s and more)


@pytest.mark.parametrize("limited", [{"latency": 0.4}], indirect=True)
def test_a_stated_tier_alone_is_enough(limited: JinaEmulator, key: Secret, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JINA_RATE_LIMITS", "tier1")
    client = JinaClient(key)  # no max_concurrency: the key's tier applies
    call_many(client, limited.embeddings_url, 100)
    assert limited.max_in_flight == 50


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 3}, "latency": 0.05}], indirect=True)
def test_stated_limits_avoid_every_refusal(limited: JinaEmulator, key: Secret) -> None:
    client = JinaClient(key, max_concurrency=8, rate_limits={"concurrency": 3})
    call_many(client, limited.embeddings_url, 24)
    assert refused(limited) == 0 and limited.max_in_flight == 3


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 2}, "latency": 0.05}], indirect=True)
def test_a_concurrency_stated_too_high_is_corrected(limited: JinaEmulator, key: Secret) -> None:
    client = JinaClient(key, max_concurrency=4, rate_limits={"concurrency": 4})
    start = time.monotonic()
    call_many(client, limited.embeddings_url, 24)
    # the first burst's two over the limit; then one probe per quiet window at most
    assert refused(limited) <= 2 + elapsed_windows(start)


def test_unlimited_emulator_reports_the_highest_tier() -> None:
    with JinaEmulator() as emulator:
        assert (emulator.rpm_limit, emulator.tpm_limit) == (5_000, 100_000_000)
        assert post(emulator).headers["X-RateLimit-Remaining-Requests"] == "4999"


@pytest.mark.parametrize(
    "limited",
    [
        {"limits": {"rpm": 4}},
        {"limits": {"rpm": 4}, "retry_after": False},
        {"limits": {"tpm": 16}},
        {"limits": {"rpm": 4}, "retry_after": False, "rate_clock": "fixed"},
    ],
    indirect=True,
)
def test_client_waits_for_the_window_instead_of_being_refused(limited: JinaEmulator, key: Secret) -> None:
    client = JinaClient(key, max_concurrency=4)
    start = time.monotonic()
    for _ in range(3):
        call_many(client, limited.embeddings_url, 4)
    windows = [w for w in limited.rate.windows() if w.requests]
    assert [w.requests for w in windows] == [4, 4, 4]  # each window used to the full, none overrun
    assert refused(limited) == 0  # the budget is read from the headers, so nothing is sent to be refused
    assert time.monotonic() - start >= 1.5 * WINDOW


@pytest.mark.parametrize("limited", [{"limits": {"rpm": 4}, "retry_after": False}], indirect=True)
def test_a_limit_stated_too_high_costs_one_refusal_per_window(limited: JinaEmulator, key: Secret) -> None:
    client = JinaClient(key, max_concurrency=1, rate_limits={"rpm": 6})
    for _ in range(10):
        client.post_json(limited.embeddings_url, {**BODY})
    assert all(sum(w.refused.values()) <= 1 for w in limited.rate.windows())


@pytest.mark.parametrize(
    "limited",
    [
        {"limits": {"tpm": 40}, "latency": 0.02},
        {"limits": {"tpm": 40}, "latency": 0.02, "retry_after": False, "rate_clock": "fixed"},
    ],
    indirect=True,
)
def test_job_slowed_by_limits_embeds_every_document_in_order(limited: JinaEmulator, key: Secret) -> None:
    documents = [Document(content=f"document number {i} about pacing") for i in range(24)]  # 5 tokens each
    embedder = JinaDocumentEmbedder(base_url=limited.embeddings_url, batch_size=2, progress_bar=False)
    result = embedder.run(documents)
    assert [d.id for d in result["documents"]] == [d.id for d in documents]
    assert all(d.embedding for d in result["documents"]) and "failed_documents" not in result["meta"]  # failures raise
    windows = limited.rate.windows()
    assert len(windows) >= 3  # 120 tokens at 40 a window
    assert all(sum(w.refused.values()) <= 1 for w in windows), [w.refused for w in windows]


@pytest.mark.parametrize("limited", [{"limits": {"rpm": 6}, "retry_after": False}], indirect=True)
def test_starting_mid_window_on_a_shared_key_does_not_take_what_is_left_for_the_limit(
    limited: JinaEmulator, key: Secret
) -> None:
    for _ in range(5):  # another process used 5 of the window's 6 requests
        assert post(limited).status_code == 200
    client = JinaClient(key, max_concurrency=6)
    start = time.monotonic()
    for _ in range(3):
        call_many(client, limited.embeddings_url, 6)
    # 18 requests at 6 a window: 1 in the shared window, then full windows; at 1 a window it would take 18
    assert time.monotonic() - start < 8 * WINDOW
    assert max(w.requests for w in limited.rate.windows()) == 6


@pytest.mark.parametrize("limited", [{"latency": 0.05}], indirect=True)
def test_a_lone_concurrency_refusal_is_not_taken_for_the_keys_limit(limited: JinaEmulator, key: Secret) -> None:
    """Nothing of ours was in flight: someone else holds the key. A short pause, and the bound is unchanged."""
    limited.inject("status", status=429, code="RATE_CONCURRENCY_LIMIT_EXCEEDED", times=1)
    limiter = limiter_for(f"Bearer {DEFAULT_API_KEY}", limited.embeddings_url)
    client = JinaClient(key, max_concurrency=10)
    client.post_json(limited.embeddings_url, BODY)
    assert limiter.learned is None
    start = time.monotonic()
    call_many(client, limited.embeddings_url, 100)
    assert limited.max_in_flight == 10
    assert time.monotonic() - start < 3.0  # 10 rounds of 0.05 s; at 1 in flight it would be 5 s


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 2}, "latency": 0.08}], indirect=True)
def test_components_on_the_same_key_share_one_limiter(
    limited: JinaEmulator, key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JINA_RATE_LIMITS", "concurrency=2")
    embedders = [
        JinaDocumentEmbedder(base_url=limited.embeddings_url, batch_size=1, progress_bar=False, max_concurrency=2)
        for _ in range(2)
    ]
    results: list[dict[str, object]] = []
    threads = [
        threading.Thread(target=lambda e=e: results.append(e.run([Document(content=f"text {i}") for i in range(6)])))
        for e in embedders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    # each component alone would keep 2 in flight, 4 together; the shared limiter holds the key to 2
    assert limited.max_in_flight == 2 and refused(limited) == 0


def test_one_limiter_per_key_and_host_that_never_shows_the_key(key: Secret) -> None:
    secret = "Bearer jina_secret_value_123"
    first = limiter_for(secret, "https://api.jina.ai/v1/embeddings")
    assert limiter_for(secret, "https://api.jina.ai/v1/rerank") is first
    assert limiter_for(secret, "https://r.jina.ai/x") is not first
    assert limiter_for("Bearer other", "https://api.jina.ai/v1/embeddings") is not first
    assert "jina_secret_value_123" not in repr(first) + repr(ratelimit._limiters)


def test_the_limiter_registry_keeps_only_what_is_live(key: Secret) -> None:
    for number in range(5000):
        limiter_for(f"Bearer key-{number}", "https://api.jina.ai/v1/embeddings")
    assert len(ratelimit._limiters) <= ratelimit.MAX_IDLE_LIMITERS + 1


@pytest.mark.parametrize("limited", [{"limits": {"concurrency": 2}}], indirect=True)
def test_clients_hold_no_limiter_so_they_copy_and_pickle(limited: JinaEmulator, key: Secret) -> None:
    client = JinaClient(key, rate_limits="tier1")
    client.post_json(limited.embeddings_url, BODY)
    assert not any(isinstance(value, ratelimit.RateLimiter) for value in vars(client).values())
    for twin in (copy.deepcopy(client), pickle.loads(pickle.dumps(client))):
        assert twin.rate_limits == Limits(rpm=500, tpm=10_000_000, concurrency=50)
        twin.post_json(limited.embeddings_url, BODY)  # same key and host: the same shared limiter
    limiter = limiter_for(f"Bearer {DEFAULT_API_KEY}", limited.embeddings_url)
    assert limiter.concurrency == 50 and limiter.in_flight == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_with_fresh_limiters(key: Secret) -> None:
    parent = limiter_for("Bearer k", "https://api.jina.ai/v1/embeddings")
    engine.run_sync(parent.acquire("https://api.jina.ai/v1/embeddings", None))  # a request in flight at the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        child = limiter_for("Bearer k", "https://api.jina.ai/v1/embeddings")
        os.write(write, b"fresh" if child is not parent and child.in_flight == 0 else b"inherited")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 20) == b"fresh"
    os.close(read)
    os.close(write)


@pytest.mark.parametrize("limited", [{"limits": "free", "latency": 0.3}], indirect=True)
def test_forgetting_the_limits_mid_request_still_answers_it(limited: JinaEmulator) -> None:
    """A reset between benchmark phases used to lose the answer of a request still held (KeyError)."""
    answers: list[requests.Response] = []
    request = threading.Thread(target=lambda: answers.append(post(limited)))
    request.start()
    time.sleep(0.1)
    limited.rate.reset()
    request.join()
    assert [a.status_code for a in answers] == [200]
    assert post(limited).status_code == 200  # and the next one is admitted as usual


@pytest.mark.parametrize(
    "limited", [{"limits": {"tpm": 48}, "latency": 0.02, "retry_after": False, "rate_clock": "fixed"}], indirect=True
)
def test_a_stated_budget_shared_with_another_process_costs_at_most_one_refusal_per_window(
    limited: JinaEmulator, key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stated TPM is the key's, but another process spends part of each window: the pacer must not burst."""
    monkeypatch.setenv("JINA_RATE_LIMITS", "rpm=100000,tpm=48,concurrency=8")
    stop = threading.Event()

    theirs: list[float] = []  # when the other process was refused

    def other_process() -> None:  # half the budget (6 x 4 tokens) at the start of every window of the clock
        while not stop.is_set():
            epoch = limited.rate._epoch
            next_start = epoch + (int((time.monotonic() - epoch) / WINDOW) + 1) * WINDOW
            time.sleep(max(0.0, next_start - time.monotonic()) + 0.005)
            for _ in range(6):
                sent_at = time.monotonic()
                if post(limited).status_code == 429:
                    theirs.append(sent_at)

    neighbour = threading.Thread(target=other_process, daemon=True)
    neighbour.start()
    try:
        documents = [Document(content=f"document number {i} about pacing") for i in range(24)]  # 5 tokens each
        embedder = JinaDocumentEmbedder(base_url=limited.embeddings_url, batch_size=2, progress_bar=False)
        result = embedder.run(documents)
    finally:
        stop.set()
        neighbour.join(5)
    assert all(d.embedding for d in result["documents"])
    ours = [
        sum(w.refused.values()) - sum(w.start <= t < w.start + WINDOW for t in theirs) for w in limited.rate.windows()
    ]
    assert all(r <= 1 for r in ours), ours


# answers of 0.2 s: with 0.05 s, a machine loaded by two CPU-bound processes prepared the images slower than the
# emulator answered them, and the stated tier never had more than 16 in flight (1 run in 5)
@pytest.mark.parametrize("limited", [{"latency": 0.2}], indirect=True)
@pytest.mark.parametrize("stated", [None, "tier1"])
def test_heavy_components_cap_what_nobody_stated_but_follow_a_stated_tier(
    limited: JinaEmulator, key: Secret, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stated: str | None
) -> None:
    from PIL import Image

    from haystack_integrations.components.embedders.jina import JinaDocumentImageEmbedder

    if stated:
        monkeypatch.setenv("JINA_RATE_LIMITS", stated)
    for number in range(200):
        Image.new("RGB", (8, 8), (number, 0, 0)).save(tmp_path / f"{number}.png")
    documents = [Document(content=None, meta={"file_path": f"{number}.png"}) for number in range(200)]
    embedder = JinaDocumentImageEmbedder(
        base_url=limited.embeddings_url, root_path=str(tmp_path), batch_size=1, progress_bar=False
    )
    assert all(d.embedding for d in embedder.run(documents)["documents"])
    if stated:
        assert limited.max_in_flight > 16  # the key's stated 50, not the cap
    else:
        assert limited.max_in_flight <= 16  # images in flight stay bounded while the key's bound grows


@pytest.mark.parametrize("limited", [{"limits": {"tpm": 40}, "latency": 0.02}], indirect=True)
def test_a_token_limit_stated_far_too_high_is_corrected_after_the_first_window(
    limited: JinaEmulator, key: Secret, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stated TPM the server does not give: the first window's burst is refused in part, later ones are not."""
    monkeypatch.setenv("JINA_RATE_LIMITS", "rpm=100000,tpm=100000,concurrency=8")
    documents = [Document(content=f"document number {i} about pacing") for i in range(40)]  # 5 tokens each
    embedder = JinaDocumentEmbedder(base_url=limited.embeddings_url, batch_size=2, progress_bar=False, max_retries=8)
    assert all(d.embedding for d in embedder.run(documents)["documents"])
    refusals = [sum(w.refused.values()) for w in limited.rate.windows()]
    assert all(r <= 1 for r in refusals[1:]), refusals
