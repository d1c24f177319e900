"""Same-host sharing of a key (opt-in, `JINA_HOST_SHARING`): busy processes split the key's total.

The database side (`HostShare`) runs on a temporary directory with a clock of the test's; the policy side in
simulated time; and real processes share a key on the emulator with sharing on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_shared_key import child_env

from haystack_integrations.common.jina.pacing import host_share
from haystack_integrations.common.jina.pacing.host_share import HostShare, Peers, sharing_directory
from haystack_integrations.common.jina.pacing.limits import Limits
from haystack_integrations.common.jina.pacing.pacer import RateLimiter
from haystack_integrations.common.jina.pacing.policy import SEND, WAIT_FOR_ANSWER, Policy
from haystack_integrations.common.jina.pacing.signals import CONCURRENCY_LIMIT, Signals
from haystack_integrations.testing.jina import JinaEmulator

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "benchmarks" / "_shared_key_jobs.py"
KEY_ID = b"sha256-of-the-key" + b"https://api.jina.ai"


ALONE = Peers(1, (0, 0))


class Clock:
    def __init__(self, now: float = 1_005.0) -> None:  # mid-way between two turns of the slots left over
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------- the database side
def test_busy_processes_see_each_other_and_a_finished_one_hands_its_part_over(tmp_path: Path) -> None:
    clock = Clock()
    first, second = HostShare(tmp_path, KEY_ID, clock=clock), HostShare(tmp_path, KEY_ID, clock=clock)
    assert first.sync(busy=True) == ALONE
    two = second.sync(busy=True)
    assert two is not None and two.count == 2
    assert first.sync(busy=True) == ALONE  # read again only every REFRESH seconds
    clock.now += host_share.REFRESH
    one = first.sync(busy=True)
    assert one is not None and one.count == 2
    assert {one.ranks, two.ranks} == {(0, 0), (1, 1)}  # one rank each
    assert second.sync(busy=False) is None  # done: written at once
    assert first.sync(busy=True) == one  # not read again before REFRESH
    clock.now += host_share.REFRESH
    assert first.sync(busy=True) == ALONE


def test_an_idle_process_writes_nothing_more(tmp_path: Path) -> None:
    """Idle is written once: each answer a query server's process ends idle on costs no transaction more."""
    clock = Clock()
    share = HostShare(tmp_path, KEY_ID, clock=clock)
    share.sync(busy=True)
    share.sync(busy=False)
    written = share.path.stat().st_mtime_ns, share.path.stat().st_size
    for _ in range(3):
        clock.now += host_share.REFRESH
        assert share.sync(busy=False) is None
    with contextlib.closing(sqlite3.connect(share.path)) as connection:
        assert connection.execute("SELECT busy, seen FROM members").fetchall() == [
            (0, clock.now - 3 * host_share.REFRESH)
        ]
    assert (share.path.stat().st_mtime_ns, share.path.stat().st_size) == written


def test_a_process_that_stopped_refreshing_holds_no_part(tmp_path: Path) -> None:
    clock = Clock()
    first, killed = HostShare(tmp_path, KEY_ID, clock=clock), HostShare(tmp_path, KEY_ID, clock=clock)
    killed.sync(busy=True)
    peers = first.sync(busy=True)
    assert peers is not None and peers.count == 2
    clock.now += host_share.STALE + 0.01
    assert first.sync(busy=True) == ALONE


def test_the_slots_left_over_go_round_and_are_never_held_twice(tmp_path: Path) -> None:
    """5 slots among 2: one process has 3 for `ROTATE` seconds, then the other; around a turn, neither."""
    clock = Clock(0.0)
    shares = [HostShare(tmp_path, KEY_ID, clock=clock) for _ in range(2)]
    for share in shares:
        share.sync(busy=True)  # the first saw itself alone: the second's arrival reaches it at its next refresh
    seen = []
    step = host_share.REFRESH
    for _ in range(int(3 * host_share.ROTATE / step)):
        clock.now += step
        peers = [share.sync(busy=True) for share in shares]
        parts = [p.part(5) if p is not None else 0 for p in peers]
        assert sum(parts) <= 5
        seen.append(parts)
    assert [2, 3] in seen and [3, 2] in seen  # the third slot changed hands
    assert [2, 2] in seen  # while it did, nobody had it
    assert sum(parts == [2, 2] for parts in seen) / len(seen) <= 2 * host_share.HAND_OVER / host_share.ROTATE + 0.05


def test_keys_and_hosts_do_not_share_a_database_and_the_key_is_not_in_its_name(tmp_path: Path) -> None:
    clock = Clock()
    one = HostShare(tmp_path, b"key one" + b"https://api.jina.ai", clock=clock)
    other = HostShare(tmp_path, b"key two" + b"https://api.jina.ai", clock=clock)
    assert one.sync(busy=True) == ALONE
    assert other.sync(busy=True) == ALONE
    assert one.path != other.path
    assert "key one" not in one.path.name


@pytest.mark.parametrize("damage", ["directory is a file", "database is garbage", "a NUL in the path"])
def test_a_broken_database_turns_sharing_off_without_failing(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / ("shar\x00ing" if damage == "a NUL in the path" else "sharing")
    share = HostShare(directory, KEY_ID, clock=Clock())
    if damage == "a NUL in the path":
        pass
    elif damage == "directory is a file":
        directory.write_text("not a directory")
    else:
        directory.mkdir()
        share.path.write_bytes(b"this is not an SQLite database " * 100)
    assert share.sync(busy=True) is None
    assert share.failed
    assert share.sync(busy=True) is None  # and stays off


def test_a_row_written_before_the_clock_went_back_does_not_count(tmp_path: Path) -> None:
    before = HostShare(tmp_path, KEY_ID, clock=Clock(2_005.0))
    before.sync(busy=True)  # then the process died, and the clock went back an hour... or a quarter of one
    after = HostShare(tmp_path, KEY_ID, clock=Clock(2_000.0 - 900))
    assert after.sync(busy=True) == ALONE


def test_a_temporary_directory_others_may_write_to_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "open"
    directory.mkdir()
    directory.chmod(0o777)  # made by someone else for us to use: they could write rows that starve us
    share = HostShare(directory, KEY_ID, clock=Clock())
    assert share.sync(busy=True) is None
    assert share.failed


def test_a_database_locked_by_another_program_turns_sharing_off_until_it_is_free(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    share = HostShare(tmp_path, KEY_ID, clock=clock)
    assert share.sync(busy=True) == ALONE
    other = sqlite3.connect(share.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # a backup, or a curious user, holding it
    clock.now += host_share.REFRESH
    assert share.sync(busy=True) == ALONE  # for a while: the last part read
    clock.now += host_share.STALE
    with caplog.at_level(logging.WARNING):
        assert share.sync(busy=True) is None  # then as without sharing: the others' rows may have gone stale
    assert "locked" in caplog.text
    other.execute("COMMIT")
    other.close()
    clock.now += 1.0
    assert share.sync(busy=True) == ALONE
    assert not share.failed


def test_parts_add_up_to_the_total() -> None:
    for total in range(1, 60):
        for processes in range(1, 12):
            parts = [Peers(processes, (rank, rank)).part(total) for rank in range(processes)]
            assert sum(parts) == max(total, processes)  # one each at least
            assert max(parts) - min(parts) <= 1


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("0", None), ("off", None), ("/some/dir", Path("/some/dir"))]
)
def test_the_setting_names_a_directory_or_turns_sharing_off(value: str, expected: Path | None) -> None:
    assert sharing_directory(value) == expected


def test_a_home_that_cannot_be_found_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOME", "USERPROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    assert sharing_directory("~/jina") is not None


def test_the_setting_on_picks_a_temporary_directory() -> None:
    directory = sharing_directory("1")
    assert directory is not None and directory.name.startswith("jina-haystack-")


# ---------------------------------------------------------------------- the policy side (simulated time)
def refusal() -> Signals:
    return Signals(429, CONCURRENCY_LIMIT, None, None, None, 50, concurrency_current=51)


def test_the_stated_total_is_split_among_the_busy_processes() -> None:
    parts = []
    for rank in range(4):
        policy = Policy(Limits(concurrency=50))
        policy.split(0.0, Peers(4, (rank, rank)))
        parts.append(policy.concurrency_share.host_part)
        assert policy.bound(None) == 1  # joining busy processes: one request first, then doubling
    assert parts == [13, 13, 12, 12]
    policy.split(0.0, None)  # not shared any more
    assert policy.bound(None) == 50


def test_nothing_is_split_while_the_keys_total_is_unknown() -> None:
    policy = Policy()
    policy.split(0.0, Peers(4, (0, 0)))
    assert policy.bound(None) == 5  # the Free tier's start, as without sharing


def test_a_refusal_while_the_others_hand_over_lowers_nothing() -> None:
    policy = Policy(Limits(concurrency=50))
    policy.split(0.0, Peers(2, (0, 0)))  # an answer takes 1 s before any came: the hand-over lasts 1.5 s
    tickets = [policy.sent(0.1, 10, 40, 0, "/v1/embeddings") for _ in range(25)]
    policy.answered(0.2, tickets[-1], refusal())  # the other process still holds its old part
    assert policy.paused_until == 0.0  # nothing stops: the requests in flight go on, the part stays
    assert policy.decide(0.3, 10, None) == WAIT_FOR_ANSWER  # held at the 24 in flight for a moment
    assert policy.decide(0.5, 10, None) == SEND  # then the 25th tries again
    assert policy.bound(None) == 25
    policy.sent(0.5, 10, 40, 0, "/v1/embeddings")
    policy.answered(2.0, tickets[-2], refusal())  # after the hand-over: another host, or a smaller key
    assert policy.bound(None) < 25


def test_a_lowered_share_keeps_its_proportion_when_the_part_changes() -> None:
    policy = Policy(Limits(concurrency=50))
    policy.split(0.0, Peers(2, (0, 0)))
    tickets = [policy.sent(2.0, 10, 40, 0, "/v1/embeddings") for _ in range(25)]
    policy.answered(2.1, tickets[-1], refusal())
    lowered = policy.bound(None)
    assert lowered < 25
    policy.split(3.0, ALONE)  # the other process is done: the part doubles, and what was learned with it
    assert policy.bound(None) in (2 * lowered - 1, 2 * lowered, 2 * lowered + 1)


def test_a_newcomer_refused_whole_starts_again_from_one_request_and_doubles() -> None:
    """The others on the host have not let its part go yet: one request, then two, four... not its part each time."""
    policy = Policy(Limits(concurrency=50))
    policy.split(0.0, Peers(4, (0, 0)))  # an answer takes 1 s before any came: a quarter of one is 0.25 s
    tickets = [policy.sent(0.0, 10, 40, 0, "/v1/embeddings") for _ in range(13)]
    for ticket in tickets:
        policy.answered(0.01, ticket, refusal())
    assert policy.bound(None) == 1
    assert policy.paused_until == pytest.approx(0.26)  # none of its own out: not again at once
    bounds = []
    for now in (0.3, 0.6, 0.9, 1.2):
        policy.decide(now, 10, None)
        bounds.append(policy.bound(None))
    assert bounds == [2, 4, 8, 13]


def test_a_share_other_refusals_lowered_grows_back_to_its_part() -> None:
    """Refused after the hand-over (another host, a slow hand-over): back at the part in a few rounds, not slots."""
    policy = Policy(Limits(concurrency=50))
    policy.split(0.0, ALONE)
    policy.split(0.0, Peers(2, (0, 0)))  # another came: the part shrinks
    tickets = [policy.sent(2.0, 10, 40, 0, "/v1/embeddings") for _ in range(25)]
    policy.answered(2.1, tickets.pop(), refusal())
    assert policy.bound(None) < 25
    now, answers = 3.0, 0
    while policy.bound(None) < 25 and answers < 200:
        policy.answered(now, tickets.pop(0), Signals(200, tokens_used=10))  # each answer: the next goes
        tickets.append(policy.sent(now, 10, 40, 0, "/v1/embeddings"))
        while policy.in_flight < policy.bound(None):
            tickets.append(policy.sent(now, 10, 40, 0, "/v1/embeddings"))
        now, answers = now + 0.04, answers + 1
    assert policy.bound(None) == 25
    assert answers <= 10  # within a round: without a host's part to grow to, one slot every 5-10 answers' time


# ---------------------------------------------------------------------- the pacer's heartbeat
async def until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether `condition` holds within `seconds` (a loaded machine makes timers late, never early)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


async def test_a_busy_limiter_refreshes_its_part_while_its_requests_are_out(tmp_path: Path) -> None:
    """Two limiters of one key as two processes would: parts move with no call passing through `acquire`."""
    first, second = (
        RateLimiter("https://api.jina.ai", Limits(concurrency=4), host_share=HostShare(tmp_path, KEY_ID))
        for _ in range(2)
    )
    url, payload = "https://api.jina.ai/v1/embeddings", {"input": ["a"]}
    held = await first.acquire(url, payload)
    assert first.bound(None) == 4  # alone
    other = await second.acquire(url, payload)
    assert second.policy.concurrency_share.host_part == 2
    assert await until(lambda: first.bound(None) == 2)  # its heartbeat read the newcomer
    second.release(other, None)  # done: says so at once
    assert await until(lambda: first.bound(None) == 4)
    first.release(held, None)
    assert first._beat is None and second._beat is None  # idle: no heartbeat left behind


async def test_a_limiter_whose_sharing_failed_paces_as_without_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    limiter = RateLimiter("https://api.jina.ai", Limits(concurrency=4), host_share=HostShare(tmp_path / "file", KEY_ID))
    tickets = [await limiter.acquire("https://api.jina.ai/v1/embeddings", {"input": ["a"]}) for _ in range(4)]
    assert limiter.bound(None) == 4 and limiter.host_share is not None and limiter.host_share.failed
    assert limiter._beat is None  # no heartbeat for a database that cannot be used
    for ticket in tickets:
        limiter.release(ticket, None)


# ---------------------------------------------------------------------- real processes
def test_processes_sharing_on_one_host_split_the_key_without_refusals(tmp_path: Path) -> None:
    """
    4 processes x 50 requests on a key of 8, stated, starting together. Without sharing the first round alone
    costs 24 refusals (each sends 8) and the probes that even the shares out cost more; with it, at most the
    start's registrations race (the first to register sees itself alone for a moment).
    """
    with JinaEmulator(limits={"concurrency": 8}, latency=0.05) as emulator:
        env = child_env(
            {**emulator.environment(), "JINA_RATE_LIMITS": "concurrency=8", "JINA_HOST_SHARING": str(tmp_path / "s")}
        )
        completed = subprocess.run(
            [sys.executable, str(JOBS), "--processes", "4", "--docs", "400", "--batch-size", "8"],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        refused = emulator.rate.refused()
    outcomes = [json.loads(line) for line in completed.stdout.splitlines() if '"process"' in line]
    report = f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr[-2000:]}\nrefused {refused}"
    assert [o["documents"] for o in outcomes] == [400] * 4, report
    assert sum(refused.values()) < 24, report
    databases = list((tmp_path / "s").iterdir())
    assert len(databases) == 1, report
    assert env["JINA_API_KEY"] not in databases[0].name
