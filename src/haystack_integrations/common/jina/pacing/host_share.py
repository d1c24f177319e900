"""Same-host sharing of one key's concurrency, opt-in (`JINA_HOST_SHARING`): busy processes split the key's total.

Off by default: without it, processes share a key by the refusals alone (`concurrency.py`). With it, each process
that uses the key keeps one row in an SQLite database (Python's `sqlite3`; SQLite does the locking, across
processes) saying whether it is busy (requests in flight or waiting), refreshed every `REFRESH` seconds while
busy (the pacer's heartbeat). Rows not refreshed for `STALE` seconds (a process that ended or was killed) do not
count. Each process takes its part of the key's total (stated, or named by a refusal) among the busy ones:
`total // n`, one more for the first `total % n` in turn (by row id, shifted every `ROTATE` seconds on the shared
clock; a slot changing hands is given up `HAND_OVER` s early and taken `HAND_OVER` s late), so the parts add up to
the total and even out over time, and a process that finishes hands its part to the others within `REFRESH`.
Other hosts on the key are still met by the refusals.

The database is a file in the directory `JINA_HOST_SHARING` names (`1`: a per-user directory in the system's
temporary directory; under it, only a directory of this user's that nobody else may write to), named by a hash of
the key and the API host: never the key. A file or directory that cannot be used turns sharing off for the process
(logged, naming the file), and a database another program keeps locked for `STALE` s turns it off until it is free;
neither fails a request.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from haystack import logging

logger = logging.getLogger(__name__)

#: Seconds between refreshes of this process's row (and reads of the others') while it is busy.
REFRESH = 0.25
#: A row not refreshed for this long is of a process that is gone (or idle): it holds no part.
STALE = 3.0
#: Rows older than this are deleted (a process killed long ago).
FORGET = 60.0
#: Seconds each process holds its turn of the slots a split leaves over (`total % n`): shares even out over time.
ROTATE = 10.0
#: A slot left over changes hands at each `ROTATE` boundary: the process that loses it stops using it this long
#: before (it reads its part every `REFRESH` s, and one of its requests must end), the one that gains it takes it
#: this long after, so the two never hold it at once.
HAND_OVER = 0.5
#: How long a write or read waits for another process's transaction (they take well under a millisecond).
LOCK_WAIT = 0.01
ENV = "JINA_HOST_SHARING"


@dataclass(frozen=True)
class Peers:
    """The busy processes of the host on one key, as this one last read them."""

    count: int
    #: this one's rank `HAND_OVER` s before and after the read: the slots left over go to the first ranks
    ranks: tuple[int, int]

    def part(self, total: int) -> int:
        """This one's part of `total` slots: `total // count`, one more while it holds a slot left over."""
        base, left = divmod(total, self.count)
        return max(1, base + min(1 if rank < left else 0 for rank in self.ranks))  # one at least


_SCHEMA = "CREATE TABLE IF NOT EXISTS members (id TEXT PRIMARY KEY, busy INTEGER NOT NULL, seen REAL NOT NULL)"


def sharing_directory(value: str | None = None) -> Path | None:
    """The directory `JINA_HOST_SHARING` names (`None`: off). `1`/`true`/`yes`/`on`: a per-user temporary one."""
    raw = (os.environ.get(ENV, "") if value is None else value).strip()
    if not raw or raw.lower() in ("0", "false", "no", "off"):
        return None
    if raw.lower() in ("1", "true", "yes", "on"):
        user = getattr(os, "getuid", lambda: "user")()
        return Path(tempfile.gettempdir()) / f"jina-haystack-{user}"
    try:
        return Path(raw).expanduser()
    except RuntimeError:  # `~` with no home to expand it to: taken as it is (and likely fails: sharing off)
        return Path(raw)


class HostShare:
    """
    This process's row among the processes of this host that use one key (see the module docstring).

    :param directory: Where the database lives (created, owner-only, if missing).
    :param key_id: What names the database: the key and host, hashed here again.
    :param clock: Wall-clock seconds (shared by every process of the host); tests pass their own.
    """

    def __init__(self, directory: Path, key_id: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.id = uuid.uuid4().hex  # random: ranks do not favour a process by its pid
        self.path = directory / f"jina-key-{hashlib.sha256(b'jina-host-sharing' + key_id).hexdigest()[:32]}.sqlite3"
        self._directory = directory
        self._checked = False  # whether the directory was made or found private
        self._synced_at = -float("inf")
        self._busy = False
        self.failed = False
        self.part: Peers | None = None  # the busy processes, as last read
        self._locked_since: float | None = None  # since when another program holds the database locked
        self._warned_locked: float | None = None
        self._tried_at = -float("inf")

    def sync(self, busy: bool) -> Peers | None:
        """
        Write whether this process is busy (at once when that changed, then while busy every `REFRESH` s) and
        read the busy ones, or `None` (this one idle, or sharing off). A database locked by another program for
        `STALE` s or more turns sharing off until it is free again (looked at once a second). Never raises.
        """
        now = self.clock()
        if self.failed or (busy == self._busy and (not busy or now - self._synced_at < REFRESH)):
            return self.part if busy else None  # an idle row needs no refresh: stale or idle, it counts as idle
        if self._locked_out(now) and now - self._tried_at < 1.0:
            return None
        self._tried_at = now
        try:
            self.part = self._write_and_read(busy, now)
        except Exception as error:  # a file, a path, a database we cannot use (a NUL in the path is a ValueError)
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                return self._locked(now, busy)
            self.failed = True
            self.part = None
            logger.warning(
                "Same-host sharing of the Jina key is off for this process: {path}: {error} (a damaged file can be "
                "deleted; it is made again)",
                path=str(self.path),
                error=repr(error)[:200],
            )
            return None
        if self._locked_out(now):
            logger.info("Same-host sharing of the Jina key is on again: {path} is free", path=str(self.path))
        self._locked_since = None
        self._busy, self._synced_at = busy, now
        return self.part

    def _locked(self, now: float, busy: bool) -> Peers | None:
        """Another program holds the database: our last part for a while, then no sharing (its parts went stale)."""
        if self._locked_since is None:
            self._locked_since = now
        if not self._locked_out(now):
            return self.part if busy else None
        if self._warned_locked != self._locked_since:
            self._warned_locked = self._locked_since
            logger.warning(
                "Same-host sharing of the Jina key is off while {path} stays locked by another program",
                path=str(self.path),
            )
        return None

    def _locked_out(self, now: float) -> bool:
        """Whether another program has held the database locked for `STALE` s or more (sharing is off till it ends)."""
        return self._locked_since is not None and now - self._locked_since >= STALE

    def _write_and_read(self, busy: bool, now: float) -> Peers | None:
        # a connection per round: nothing stays open between rounds (nor across a fork, nor at exit)
        if not self._checked:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _check_private(self._directory)
            self._checked = True
        with contextlib.closing(sqlite3.connect(self.path, timeout=LOCK_WAIT)) as connection, connection:
            connection.execute(_SCHEMA)
            connection.execute(
                "INSERT INTO members (id, busy, seen) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET busy = excluded.busy, seen = excluded.seen",
                (self.id, int(busy), now),
            )
            # a row from the future was written before the clock went back: its process may be long gone
            connection.execute("DELETE FROM members WHERE seen < ? OR seen > ?", (now - FORGET, now + STALE))
            rows = connection.execute(
                "SELECT id FROM members WHERE busy = 1 AND seen >= ? ORDER BY id", (now - STALE,)
            ).fetchall()
        ids = [row[0] for row in rows]
        if not busy or self.id not in ids:
            return None
        # the slots left over by `total // n` go round: every process has them in turn, `ROTATE` seconds each
        index, count = ids.index(self.id), len(ids)
        ranks = [(index + int(moment // ROTATE)) % count for moment in (now - HAND_OVER, now + HAND_OVER)]
        return Peers(count, (ranks[0], ranks[1]))


def _check_private(directory: Path) -> None:
    """
    In the shared temporary directory, another user's directory (made first, under our name) or one others may
    write to would let them change our parts: refuse it. A directory named elsewhere is the user's choice.
    """
    getuid = getattr(os, "getuid", None)
    temporary = Path(tempfile.gettempdir()).resolve()
    if getuid is None or not directory.resolve().is_relative_to(temporary):  # Windows: no owners to compare
        return
    status = directory.stat()
    if status.st_uid != getuid() or status.st_mode & 0o022:
        msg = f"{directory} is not this user's own (owner {status.st_uid}, mode {oct(status.st_mode & 0o777)})"
        raise OSError(msg)
