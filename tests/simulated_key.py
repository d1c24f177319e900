"""A simulated Jina key shared by several simulated processes, in simulated time (no sockets, no sleeps).

Each process has its own `Policy` (the pacer's decisions, pure) and sends requests as `JinaClient.send` does:
it asks the policy, sends, hands the answer's `Signals` back, and retries (a rate-limit refusal without spending
an attempt while `refusal_verdict` allows it; a 5xx or a dropped connection with its retry budget and a
jittered backoff). The key enforces one concurrency limit and per-window RPM / TPM across all processes, like
Jina's (OpenAPI `info.description`): refusals are immediate and carry the remaining figures; RPM / TPM refusals
carry `Retry-After` (whole seconds) unless told not to; windows open with a request or sit on a fixed clock.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from haystack_integrations.common.jina.pacing.limits import Limits
from haystack_integrations.common.jina.pacing.policy import Policy, Ticket
from haystack_integrations.common.jina.pacing.signals import (
    CONCURRENCY_LIMIT,
    REQUEST_LIMIT,
    TOKEN_LIMIT,
    Signals,
)

START = 1000.0  # simulated clocks start here (0 is an edge case no real loop has)
MAX_RETRIES = 5
BACKOFF_BASE, BACKOFF_CAP = 0.5, 20.0


@dataclass
class KeyConfig:
    limits: Limits  # what the key enforces
    window: float = 60.0
    clock: str = "first-request"  # or "fixed"
    retry_after: bool = True
    latency: tuple[float, float] = (0.1, 0.3)  # a served request's time, uniform in this range
    fault_rate: float = 0.0  # of admitted requests: half answer 503, half drop the connection
    tokens: int = 100  # a request's cost
    network: tuple[float, float] = (0.005, 0.03)  # one way, uniform in this range
    # what the remaining figures count: "key" (every process's requests, as Jina's do); hostile: "frozen" (never
    # move: the window's budget, always) or "own" (only the asking process's requests, as a proxy might)
    figures: str = "key"
    # a concurrency refusal's detail: "readable" ("{current}/{limit} concurrent requests") or hostile, "garbage"
    detail: str = "readable"


@dataclass
class Stats:
    sent: int = 0
    served: list[float] = field(default_factory=list)  # when each served request was answered
    refused: list[float] = field(default_factory=list)  # when each refusal was answered
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    first_round: int = 0  # requests on the wire before the first answer came
    finished: float | None = None  # a finite job: when its last request was served


class Key:
    """The server side: one key's limits across every process."""

    def __init__(self, config: KeyConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.in_flight = 0
        self.busy = 0.0  # integral of requests in flight over time (for the concurrency-bound aggregate)
        self._busy_at = START
        self.epoch = START - rng.uniform(0, config.window)  # the fixed clock's phase
        self.window_start: float | None = None
        self.requests = 0
        self.tokens = 0
        self.own: dict[int, int] = {}  # requests of each process in the window (for `figures="own"`)
        self.windows: list[tuple[float, int]] = []  # (start, requests served) of each closed window

    def _roll(self, now: float) -> None:
        window = self.config.window
        if self.config.clock == "fixed":
            start = self.epoch + math.floor((now - self.epoch) / window) * window
            if self.window_start != start:
                if self.window_start is not None:
                    self.windows.append((self.window_start, self.requests))
                self.window_start, self.requests, self.tokens, self.own = start, 0, 0, {}
        elif self.window_start is not None and now >= self.window_start + window:
            self.windows.append((self.window_start, self.requests))
            self.window_start, self.requests, self.tokens, self.own = None, 0, 0, {}

    def _account(self, now: float) -> None:
        self.busy += self.in_flight * (now - self._busy_at)
        self._busy_at = now

    def admit(self, now: float, who: int = 0) -> tuple[Signals | None, float]:
        """A request arrives: its refusal (answered at once), else `None` and how long it will take."""
        limits = self.config.limits
        self._roll(now)
        if self.window_start is None:
            self.window_start = now
        code = None
        if limits.concurrency is not None and self.in_flight >= limits.concurrency:
            code = CONCURRENCY_LIMIT
        elif limits.rpm is not None and self.requests + 1 > limits.rpm:
            code = REQUEST_LIMIT
        elif limits.tpm is not None and self.tokens + self.config.tokens > limits.tpm:
            code = TOKEN_LIMIT
        if code is not None:
            retry_after = None
            if code != CONCURRENCY_LIMIT and self.config.retry_after:
                retry_after = float(math.ceil(self.window_start + self.config.window - now))
            readable = code == CONCURRENCY_LIMIT and self.config.detail == "readable"
            concurrency = limits.concurrency if readable else None
            current = self.in_flight + 1 if readable else None
            signals = Signals(
                429,
                code,
                retry_after,
                *self._remaining(who),
                concurrency_limit=concurrency,
                concurrency_current=current,
            )
            return signals, 0.005
        self._account(now)
        self.in_flight += 1
        self.requests += 1
        self.own[who] = self.own.get(who, 0) + 1
        self.tokens += self.config.tokens
        return None, self.rng.uniform(*self.config.latency)

    def finish(self, now: float, who: int = 0) -> Signals | None:
        """An admitted request ends: its answer (`None`: the connection dropped)."""
        self._account(now)
        self.in_flight -= 1
        self._roll(now)
        roll = self.rng.random()
        if roll < self.config.fault_rate / 2:
            return None
        if roll < self.config.fault_rate:
            return Signals(503, "SERVICE_UNAVAILABLE", None, *self._remaining(who))
        return Signals(200, None, None, *self._remaining(who), tokens_used=self.config.tokens)

    def _remaining(self, who: int) -> tuple[int | None, int | None]:
        limits = self.config.limits
        used_requests, used_tokens = self.requests, self.tokens
        if self.config.figures == "frozen":
            used_requests = used_tokens = 0
        elif self.config.figures == "own":
            used_requests = self.own.get(who, 0)
        rpm = None if limits.rpm is None else max(0, limits.rpm - used_requests)
        tpm = None if limits.tpm is None else max(0, limits.tpm - used_tokens)
        return rpm, tpm


@dataclass
class _Request:
    attempt: int = 0
    refused_since: float | None = None


class Process:
    """
    One client process: its policy and a job (requests queued; they go as the policy allows). An endless job
    queues a new request for each one served; a finite one (`job` requests) ends when all are served.
    """

    def __init__(
        self, sim: Simulation, name: int, stated: Limits | None, cap: int | None, queued: int, job: int | None = None
    ) -> None:
        self.sim = sim
        self.name = name
        self.policy = Policy(stated, window=sim.key.config.window, rng=random.Random(sim.seed * 1000 + name))
        self.cap = cap
        self.job = job
        self.queue = deque(_Request() for _ in range(queued if job is None else job))
        self.stats = Stats()
        self._wake_at: float | None = None
        self._answered_once = False

    def pump(self, now: float) -> None:
        """Send what the policy allows; otherwise ask to be woken when it says."""
        tokens = self.policy.estimate(self.sim.key.config.tokens * 4, 0, "/v1/embeddings")
        while self.queue:
            decision = self.policy.decide(now, tokens, self.cap)
            if not decision.send:
                if decision.until is not None and (self._wake_at is None or decision.until < self._wake_at):
                    self._wake_at = decision.until
                    self.sim.at(decision.until, self._woken)
                return
            request = self.queue.popleft()
            ticket = self.policy.sent(now, tokens, self.sim.key.config.tokens * 4, 0, "/v1/embeddings")
            self.stats.sent += 1
            if not self._answered_once:
                self.stats.first_round += 1
            there = self.sim.rng.uniform(*self.sim.key.config.network)
            self.sim.at(now + there, lambda t, r=request, k=ticket: self._arrive(t, r, k))

    def _arrive(self, now: float, request: _Request, ticket: Ticket) -> None:
        back = self.sim.rng.uniform(*self.sim.key.config.network)
        refusal, takes = self.sim.key.admit(now, self.name)
        if refusal is not None:
            self.sim.at(now + takes + back, lambda t: self._answer(t, request, ticket, refusal))
        else:
            self.sim.at(now + takes, lambda t: self._leave(t, request, ticket, back))

    def _leave(self, now: float, request: _Request, ticket: Ticket, back: float) -> None:
        answer = self.sim.key.finish(now, self.name)
        self.sim.at(now + back, lambda t: self._answer(t, request, ticket, answer))

    def _woken(self, now: float) -> None:
        if self._wake_at is not None and now >= self._wake_at:
            self._wake_at = None
            self.pump(now)

    def _answer(self, now: float, request: _Request, ticket: Ticket, answer: Signals | None) -> None:
        self._answered_once = True
        self.policy.answered(now, ticket, answer)
        if answer is not None and answer.served:
            self.stats.served.append(now)
            if self.job is None:
                self.queue.append(_Request())  # the job goes on
            elif len(self.stats.served) == self.job:
                self.stats.finished = now
        elif answer is not None and answer.refusal is not None:
            self.stats.refused.append(now)
            since = now if request.refused_since is None else request.refused_since
            reason = self.policy.refusal_verdict(now, since)
            if reason is not None:
                self._fail(f"refused: {reason}", request)
            else:
                request.refused_since = since
                self.queue.appendleft(request)
        elif request.attempt >= MAX_RETRIES:
            self._fail("server errors", request)
        else:
            request.attempt += 1
            delay = self.sim.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**request.attempt))
            self.sim.at(now + delay, lambda t, r=request: self._back(t, r))
        self.pump(now)

    def _back(self, now: float, request: _Request) -> None:
        self.queue.appendleft(request)
        self.pump(now)

    def _fail(self, why: str, request: _Request) -> None:
        self.stats.failed += 1
        self.stats.failures.append(why)
        self.queue.append(_Request())  # the user's next call


class Simulation:
    """N processes on one simulated key; `run` advances simulated time by `seconds`."""

    def __init__(
        self,
        config: KeyConfig,
        processes: int,
        *,
        stated: Limits | None = None,
        cap: int | None = None,
        queued: int = 1000,
        seed: int = 0,
        stagger: float = 0.0,
        job: int | None = None,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.key = Key(config, self.rng)
        self.now = START
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._count = 0
        self.processes = [Process(self, i, stated, cap, queued, job) for i in range(processes)]
        for process in self.processes:
            self.at(START + self.rng.uniform(0, stagger), process.pump)

    def at(self, when: float, action: Callable[[float], None]) -> None:
        self._count += 1
        heapq.heappush(self._events, (max(when, self.now), self._count, action))

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self._events and self._events[0][0] <= end:
            self.now, _, action = heapq.heappop(self._events)
            action(self.now)
        self.key._account(end)
        self.now = end
