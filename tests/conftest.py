from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # tests are offline

import pytest
from haystack.utils import Secret

from haystack_integrations.common.jina import ratelimit
from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.testing.jina import JinaEmulator


@pytest.fixture(scope="session")
def session_emulator() -> Iterator[JinaEmulator]:
    with JinaEmulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(session_emulator: JinaEmulator) -> Iterator[JinaEmulator]:
    """A running emulator with no recorded requests, no faults and no latency."""
    session_emulator.reset()
    session_emulator.latency = 0.0
    session_emulator.corpus = []
    yield session_emulator
    session_emulator.reset()
    session_emulator.latency = 0.0


@pytest.fixture
def api_key(emulator: JinaEmulator, monkeypatch: pytest.MonkeyPatch) -> Secret:
    """The emulator's key as an env-var Secret (so components stay serializable)."""
    assert emulator.api_key is not None
    monkeypatch.setenv("JINA_API_KEY", emulator.api_key)
    return Secret.from_env_var("JINA_API_KEY")


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds, not seconds (Retry-After from the server is still honoured)."""
    monkeypatch.setattr(JinaClient, "backoff_base", 0.01)


@pytest.fixture(autouse=True)
def fresh_rate_limiters() -> Iterator[None]:
    """Each test starts with nothing learned about rate limits (the session emulator's budget resets per test too)."""
    ratelimit.forget_all()
    yield
    ratelimit.forget_all()


def pytest_report_header() -> str:
    from importlib.metadata import version

    return f"haystack-ai {version('haystack-ai')}"
