"""Time is bounded: whole-request deadline, long Retry-After, fail fast, cancellation (issue 11, items 1-4)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest
from haystack import Document
from haystack.utils import Secret
from hostile_server import HostileServer, stall, trickle

from haystack_integrations.common.jina import engine, ratelimit
from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.common.jina.errors import JinaBadRequestError, JinaRateLimitError, JinaTimeoutError
from haystack_integrations.common.jina.ratelimit import limiter_for
from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder
from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.server import RecordedRequest

BODY = {"model": "jina-embeddings-v3", "input": ["hello"]}


def docs(count: int) -> list[Document]:
    return [Document(content=f"document number {i}") for i in range(count)]


@pytest.mark.parametrize("headers_too", [False, True])
def test_timeout_bounds_the_whole_answer_not_each_read(headers_too: bool) -> None:
    # one byte every 50 ms: each read is quick, the whole answer would take over 10 s
    server = HostileServer(lambda c, r: None)
    server.behaviour = trickle(0.05, headers_too=headers_too, stopped=server.stopped)
    with server:
        client = JinaClient(Secret.from_token("k"), timeout=0.5, max_retries=0)
        start = time.monotonic()
        with pytest.raises(JinaTimeoutError, match=r"within 0\.5 s"):
            client.post_json(server.url, BODY)
        elapsed = time.monotonic() - start
    assert 0.45 <= elapsed < 3.0  # raised shortly after `timeout`; without the deadline: > 10 s


@pytest.mark.parametrize(("kind", "delay"), [("trickle", 0.05), ("stall", 5.0)])
def test_emulator_slow_delivery_times_out_and_the_retry_succeeds(
    emulator: JinaEmulator, api_key: Secret, kind: str, delay: float
) -> None:
    emulator.inject(kind, delay=delay)
    client = JinaClient(api_key, timeout=0.5, max_retries=1)
    body = client.post_json(emulator.embeddings_url, BODY)
    assert len(body["data"]) == 1
    assert len(emulator.requests) == 2


def test_retry_after_over_the_cap_raises_at_once_saying_when(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.inject("status", status=429, retry_after=3600, detail="slow down", times=5)
    client = JinaClient(api_key, max_retries=5)
    start = time.monotonic()
    with pytest.raises(JinaRateLimitError) as info:
        client.post_json(emulator.embeddings_url, BODY)
    assert time.monotonic() - start < 5.0  # not an hour, not even the 60 s cap
    assert len(emulator.requests) == 1
    message = str(info.value)
    assert "Retry-After: 3600" in message and "Retry after" in message and "slow down" in message
    assert info.value.retry_after == 3600


@pytest.mark.parametrize(
    "retry_after", ["3600", "1e12", "inf", "99999999999999999999999", "Wed, 21 Oct 2099 07:28:00 GMT"]
)
def test_a_long_retry_after_fails_the_call_and_holds_the_key_at_most_the_cap(
    emulator: JinaEmulator, api_key: Secret, retry_after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An hour-long (or absurd) Retry-After fails that call; it never blocks the key for longer than 60 s."""
    monkeypatch.setenv("JINA_RATE_WINDOW", "0.3")  # an unreadable Retry-After: the rate window is waited out
    emulator.inject("status", status=429, retry_after=retry_after, detail="slow down")
    embedder = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)
    start = time.monotonic()
    if retry_after == "inf":  # neither a number of seconds nor a date: ignored, so the call backs off and retries
        assert embedder.run("first")["embedding"]
    else:
        with pytest.raises(JinaRateLimitError) as info:
            embedder.run("first")
        assert "Retry-After" in str(info.value) and "OverflowError" not in str(info.value)
    assert time.monotonic() - start < 5.0
    limiter = limiter_for(f"Bearer {emulator.api_key}", emulator.embeddings_url)
    held = engine.run_sync(_pause_left(limiter))
    assert held <= ratelimit.MAX_RETRY_AFTER + 0.01


async def _pause_left(limiter: ratelimit.RateLimiter) -> float:
    return limiter._paused_until - asyncio.get_running_loop().time()


def _first_request_bad_the_rest_paused(
    emulator: JinaEmulator, api_key: Secret, retry_after: int
) -> JinaDocumentEmbedder:
    """The first request to arrive gets a 400 after 0.5 s; every other one a 429 at once with `retry_after`."""
    first: list[bytes] = []

    def is_bad(request: RecordedRequest) -> bool:
        if not first:
            first.append(request.body)
        return request.body == first[0]

    emulator.inject("status", status=400, detail="bad input", when=is_bad)
    emulator.inject("status", status=429, retry_after=retry_after, times=1000, when=lambda r: not is_bad(r))
    emulator.latency = 0.5  # the 400's; the emulator answers 429s at once
    return JinaDocumentEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, batch_size=1, max_concurrency=4, progress_bar=False
    )


def test_fail_fast_cancels_unsent_batches_and_wakes_sleeping_retries(emulator: JinaEmulator, api_key: Secret) -> None:
    # The first request to arrive fails for good (a 400 after 0.5 s); every other one is rate limited at once
    # with a 30 s Retry-After, so its retry waits (the pacer holds the key until the window ends) while the
    # bad answer is still on its way. Picking the bad batch by arrival, not by position, keeps the test
    # deterministic: a bad batch not yet sent when the first 429 came back would itself wait the 30 s.
    embedder = _first_request_bad_the_rest_paused(emulator, api_key, retry_after=30)
    before = set(threading.enumerate())
    start = time.monotonic()
    with pytest.raises(JinaBadRequestError, match="bad input"):
        embedder.run(docs(40))
    assert time.monotonic() - start < 10.0  # not the 30 s the sleeping batches were told to wait
    time.sleep(0.3)
    sent = len(emulator.requests)
    assert sent <= 8  # the first few batches only, never the 40
    time.sleep(0.5)
    assert len(emulator.requests) == sent  # and nothing more goes out afterwards
    lingering = [t.name for t in threading.enumerate() if t not in before and t.name.startswith("jina_")]
    assert not lingering  # the retries waiting out the Retry-After woke up and gave up


def test_a_failed_fast_job_sends_nothing_when_the_keys_pause_ends(emulator: JinaEmulator, api_key: Secret) -> None:
    # As above with a 2 s Retry-After: the batches waiting for the key's pause were cancelled by the failure,
    # and one woken by the bad answer at that moment must not go out when the pause ends (before Python 3.12,
    # `asyncio.wait_for` swallowed such a cancellation: the batch was sent 2 s later)
    embedder = _first_request_bad_the_rest_paused(emulator, api_key, retry_after=2)
    with pytest.raises(JinaBadRequestError, match="bad input"):
        embedder.run(docs(40))
    sent = len(emulator.requests)
    time.sleep(3.0)  # past the pause
    assert len(emulator.requests) == sent


def test_cancelled_run_async_sends_no_new_requests(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.2
    embedder = JinaDocumentEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, batch_size=1, max_concurrency=2, progress_bar=False
    )

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(embedder.run_async(docs(40)), timeout=0.5)

    asyncio.run(main())
    time.sleep(0.5)  # the two requests in flight finish
    sent = len(emulator.requests)
    time.sleep(0.6)
    assert len(emulator.requests) == sent < 12  # 40 batches of 0.2 s each would keep going for 4 s


def test_ctrl_c_in_run_sends_no_new_requests(emulator: JinaEmulator, api_key: Secret) -> None:
    emulator.latency = 0.2
    embedder = JinaDocumentEmbedder(
        api_key=api_key, base_url=emulator.embeddings_url, batch_size=1, max_concurrency=2, progress_bar=False
    )
    # A real SIGINT, as Ctrl-C sends, delivered to another thread than the main one (the kernel may pick any
    # thread of the process): the main thread must still notice it while it waits for the batches.
    timer = threading.Timer(0.5, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            embedder.run(docs(40))
    finally:
        timer.cancel()
    time.sleep(0.5)
    sent = len(emulator.requests)
    time.sleep(0.6)
    assert len(emulator.requests) == sent < 12


def test_abandoned_run_async_calls_do_not_starve_healthy_ones(emulator: JinaEmulator, api_key: Secret) -> None:
    server = HostileServer(lambda c, r: None)
    server.behaviour = stall(server.stopped)
    with server:
        stuck = JinaTextEmbedder(api_key=Secret.from_token("k"), base_url=server.url, timeout=30, max_retries=0)
        healthy = JinaTextEmbedder(api_key=api_key, base_url=emulator.embeddings_url)

        async def main() -> dict[str, object]:
            # abandoned after 2 s: on a loaded machine their first requests take a while to reach the server
            abandoned = [asyncio.wait_for(stuck.run_async(f"text {i}"), timeout=2.0) for i in range(40)]
            outcomes = await asyncio.gather(*abandoned, return_exceptions=True)
            assert all(isinstance(o, asyncio.TimeoutError) for o in outcomes)
            return await asyncio.wait_for(healthy.run_async("still works"), timeout=10)

        result = asyncio.run(main())
        assert len(result["embedding"]) == 1024  # type: ignore[arg-type]
        # 40 abandoned calls (8 on the wire, the rest waiting for a slot) held every thread of the old
        # 32-thread pool until their 30 s timeout, and the healthy call timed out behind them
        assert server.requests >= 1


@pytest.mark.parametrize("held_by", ["client", "pacer"])
async def test_waiting_for_a_slot_ends_when_the_call_is_cancelled(emulator: JinaEmulator, held_by: str) -> None:
    # the pacer's limiters are shared per key and host: a stated concurrency of 1 on a key of our own
    key = Secret.from_token(f"slot-test-{held_by}")
    client = JinaClient(key, max_retries=0, max_concurrency=1, rate_limits={"concurrency": 1})
    url = emulator.embeddings_url
    client.open()
    pacer = limiter_for(f"Bearer slot-test-{held_by}", url, client.rate_limits)
    slots = await engine.run_async(_component_slots(client))

    async def hold() -> ratelimit.Ticket | None:  # another call holds the only slot
        if held_by == "client":
            await slots.acquire()
            return None
        return await pacer.acquire(url, BODY)

    ticket = await engine.run_async(hold())
    call = asyncio.ensure_future(engine.run_async(client.post_json_async(url, BODY)))
    await asyncio.sleep(0.3)
    assert not call.done()  # waiting for the slot
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    async def release() -> None:
        if ticket is None:
            slots.release()
        else:
            pacer.release(ticket, None)

    await engine.run_async(release())
    assert emulator.requests_to("/v1/embeddings") == []  # nothing was sent
    assert pacer.in_flight == 0 and not slots.locked()  # and nothing the cancelled call waited for stays taken


#: The targets of the test servers' threads (the emulator's, its batch jobs', `HostileServer`'s): a thread
#: started without a name is called "Thread-N (target)".
_TEST_SERVER_THREADS = ("process_request_thread", "serve_forever", "_accept", "_serve", "_make", "_notify")


def _a_test_servers(thread: threading.Thread) -> bool:
    return any(f"({target})" in thread.name for target in _TEST_SERVER_THREADS)


async def _component_slots(client: JinaClient) -> asyncio.Semaphore:
    slots = client._component_slots()
    assert slots is not None
    return slots


async def test_a_cancelled_run_async_waiting_for_a_slot_holds_no_thread(emulator: JinaEmulator) -> None:
    """500 calls waiting for one slot are tasks, not threads; cancelling them sends nothing and leaves no slot taken."""
    # an answer slower than any stall of a loaded machine before the cancel (with 0.3 s, a 0.7 s stall let a
    # second call be served and a third be sent: 1 failure in 5 runs beside two CPU-bound processes)
    emulator.latency = 3.0
    embedder = JinaTextEmbedder(
        api_key=Secret.from_token(emulator.api_key), base_url=emulator.embeddings_url, max_concurrency=1
    )
    threads_before = set(threading.enumerate())
    calls = [asyncio.ensure_future(embedder.run_async(f"text {i}")) for i in range(500)]
    await asyncio.sleep(0.2)
    # the test servers answer each connection on a thread of their own, and an earlier test's server may still
    # be starting one: only the package's threads count, and that is the request loop's, at most
    ours = [t for t in set(threading.enumerate()) - threads_before if not _a_test_servers(t)]
    assert len(ours) <= 1, [t.name for t in ours]
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await asyncio.sleep(0.5)
    assert len(emulator.requests_to("/v1/embeddings")) <= 2
    emulator.latency = 0.0
    result = await asyncio.wait_for(embedder.run_async("after"), timeout=10)
    assert result["embedding"]


def test_a_past_http_date_retry_after_waits_a_floor_not_zero(emulator: JinaEmulator, api_key: Secret) -> None:
    """Issue 28 item 7: a date already past read as 0 s, so 5 retries went out within 2 ms and the call failed."""
    from email.utils import formatdate

    emulator.inject("status", status=429, retry_after=formatdate(time.time() - 5, usegmt=True), times=3)
    client = JinaClient(api_key, max_retries=5)
    start = time.monotonic()
    assert client.post_json(emulator.embeddings_url, BODY)["data"]
    assert time.monotonic() - start >= 0.4  # three jittered floors (0.25-0.5 s, then doubling), not 3 x 0 s
    assert len(emulator.requests) == 4


def test_a_retry_after_over_the_cap_fails_every_call_on_the_key_at_once_saying_why(
    emulator: JinaEmulator, api_key: Secret, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 28 item 7: the call that got an hour-long Retry-After failed at once, every other call on the key
    silently stalled 60 s. Now both fail at once saying when to retry, and one warning says why."""
    emulator.inject("status", status=429, retry_after=3600, detail="slow down", times=1)
    client = JinaClient(api_key, max_retries=5)
    with pytest.raises(JinaRateLimitError, match="Retry after"):
        client.post_json(emulator.embeddings_url, BODY)
    start = time.monotonic()
    for _ in range(3):
        with pytest.raises(JinaRateLimitError, match=r"Retry-After: 3\d\d\d.*Retry after"):
            client.post_json(emulator.embeddings_url, BODY)
    assert time.monotonic() - start < 5.0  # not 60 s each
    assert len(emulator.requests) == 1  # nothing more was sent
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "asked this key to wait" in r.getMessage()]
    assert len(warnings) == 1


async def test_calls_queued_for_the_key_fail_at_once_when_a_long_retry_after_closes_it(
    emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    20 calls on one key stated at 8 in flight: 12 wait in the key's queue. One answer's Retry-After of 120 s
    closes the key: every call ends, with its embedding or a `JinaRateLimitError`, none left waiting (before: a
    woken call that failed on the closed key did not wake the next, and 4 of 20 waited forever).
    """
    monkeypatch.setenv("JINA_RATE_LIMITS", "concurrency=8")
    arrivals: list[RecordedRequest] = []

    def second(request: RecordedRequest) -> bool:
        arrivals.append(request)
        return len(arrivals) == 2

    emulator.inject("status", status=429, retry_after=120, when=second)
    emulator.latency = 0.3
    embedder = JinaTextEmbedder(api_key=Secret.from_token(emulator.api_key), base_url=emulator.embeddings_url)
    calls = [asyncio.ensure_future(embedder.run_async(f"text {i}")) for i in range(20)]
    done, pending = await asyncio.wait(calls, timeout=10)
    for call in pending:
        call.cancel()
    assert not pending, f"{len(pending)} of 20 calls still waiting"
    outcomes = [call.exception() or call.result() for call in done]
    assert all(isinstance(o, (dict, JinaRateLimitError)) for o in outcomes), outcomes
    assert any(isinstance(o, JinaRateLimitError) for o in outcomes)
