"""Reading an answer's body into memory, bounded per answer, per process, and against compression bombs.

- Per answer: at most the client's `max_response_bytes` (decompressed); a larger body is refused as it streams.
- Per process: the bodies being read at once hold at most `ANSWER_BUDGET.limit` bytes (512 MB). A reader
  waits for room before it holds more, except the one that started first, which always goes on: a body
  is never stuck behind others, and the total stays under the limit plus one answer.
- Compression: the body is decompressed here (the session does not), a bounded step at a time, so the
  decompressed size is known as it grows. Past 16 MB, a body more than 100 times its size on the wire is
  refused as a bomb (JSON and text answers compress 2 to 10 times; zeros 1000 times).

The body grows in one `bytearray` (large buffers are their own mappings, so their memory goes back to the
system when freed), not in a list of 64 kB chunks that fragment the heap.
"""

from __future__ import annotations

import asyncio
import zlib

import aiohttp

from haystack_integrations.common.jina import fork
from haystack_integrations.common.jina.errors import JinaMalformedResponseError
from haystack_integrations.common.jina.pacing.signals import count

READ_CHUNK = 64 * 1024
#: Decompressed bytes made per step (what one compressed chunk may turn into before it is checked).
INFLATE_STEP = 1024 * 1024
#: Past this many decompressed bytes, a ratio over `MAX_RATIO` is a bomb.
BOMB_FLOOR = 16 * 1024 * 1024
MAX_RATIO = 100
#: The encodings this client asks for (`Accept-Encoding`) and decompresses.
ACCEPT_ENCODING = "gzip, deflate"


class AnswerBudget:
    """Bytes held by the bodies being read in this process, on its request loop (no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0  # the most `used` has been (for tests and benchmarks)
        self._readers: dict[object, int] = {}  # reader -> bytes it holds, oldest first
        self._waiting: list[asyncio.Future[None]] = []

    async def take(self, reader: object, size: int) -> None:
        """Room for `size` more bytes of `reader`'s body, once there is (the oldest reader never waits)."""
        self._readers.setdefault(reader, 0)
        while self.used + size > self.limit and next(iter(self._readers)) is not reader:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
        self.used += size
        self.peak = max(self.peak, self.used)
        self._readers[reader] += size

    def release(self, reader: object) -> None:
        """`reader` is done (its body handed over, or refused): its bytes no longer count."""
        self.used -= self._readers.pop(reader, 0)
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)


ANSWER_BUDGET = AnswerBudget(512 * 1024 * 1024)


@fork.on_fork_in_child
def _fresh_budget() -> None:
    """A forked child reads on its own loop: the parent's readers are not its own."""
    global ANSWER_BUDGET  # noqa: PLW0603
    ANSWER_BUDGET = AnswerBudget(ANSWER_BUDGET.limit)


def _inflater(encoding: str, first: bytes) -> zlib._Decompress | None:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":  # a zlib stream as the RFC says, or raw deflate as some servers send
        zlib_header = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
    msg = f"Content-Encoding {encoding!r}, which this client did not ask for ({ACCEPT_ENCODING})"
    raise ValueError(msg)


async def read_body(response: aiohttp.ClientResponse, limit: int, endpoint: str) -> bytes:
    """
    The (decompressed) body, refusing one over `limit` bytes, or a compression bomb, as it streams.

    :raises JinaMalformedResponseError: Over `limit`, a bomb, an encoding not asked for, or corrupt compression.
    """
    declared = count(response.headers.get("Content-Length"))
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    status = response.status

    def refuse(why: str) -> JinaMalformedResponseError:
        response.close()  # the rest is not read: drop the connection
        msg = f"Jina API answered HTTP {status} from {endpoint} with {why}; refused, not read into memory"
        return JinaMalformedResponseError(msg, status_code=status, endpoint=endpoint)

    over = f"a body over {limit // (1024 * 1024)} MB"
    if declared is not None and declared > limit and not encoding:
        raise refuse(over)
    body = bytearray()
    wire = 0
    inflater: zlib._Decompress | None = None
    reader = object()
    budget = ANSWER_BUDGET

    async def keep(piece: bytes) -> None:
        if len(body) + len(piece) > limit:
            raise refuse(over)
        if len(body) + len(piece) > BOMB_FLOOR and len(body) + len(piece) > MAX_RATIO * wire:
            raise refuse(f"a body over {MAX_RATIO} times its compressed size (a compression bomb)")
        await budget.take(reader, len(piece))
        body.extend(piece)

    try:
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            wire += len(chunk)
            if inflater is None and encoding not in ("", "identity"):
                inflater = _inflater(encoding, chunk)
            for piece in _inflate(inflater, chunk):
                await keep(piece)
        if inflater is not None:
            await keep(inflater.flush())
        return bytes(body)
    except (ValueError, zlib.error) as error:
        raise refuse(f"a body that cannot be decompressed ({error})") from None
    finally:
        body.clear()
        budget.release(reader)


def _inflate(inflater: zlib._Decompress | None, chunk: bytes) -> list[bytes] | _Steps:
    return [chunk] if inflater is None else _Steps(inflater, chunk)


class _Steps:
    """The decompressed pieces of one compressed chunk, at most `INFLATE_STEP` bytes each, made as iterated."""

    def __init__(self, inflater: zlib._Decompress, chunk: bytes) -> None:
        self._inflater = inflater
        self._pending = chunk

    def __iter__(self) -> _Steps:
        return self

    def __next__(self) -> bytes:
        while self._pending:
            piece = self._inflater.decompress(self._pending, INFLATE_STEP)
            self._pending = self._inflater.unconsumed_tail
            if piece:
                return piece
        raise StopIteration


__all__ = ["ACCEPT_ENCODING", "ANSWER_BUDGET", "AnswerBudget", "read_body"]
