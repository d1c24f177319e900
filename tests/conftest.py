from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # tests are offline

import pytest
from conformance import Recorder, recorder, recording_emulators
from haystack.utils import Secret
from jina_spec import MISSING_REASON, SPEC_PATH, load_spec
from page_server import pages  # noqa: F401 (the `pages` fixture: a local web server for the reader to read)

from haystack_integrations.common.jina import ratelimit
from haystack_integrations.common.jina.client import JinaClient
from haystack_integrations.testing.jina import JinaEmulator
from haystack_integrations.testing.jina.routes_classify import classifiers_of


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
    classifiers_of(session_emulator).clear()  # trained classifiers count against a per-key limit
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


def pytest_report_header() -> list[str]:
    from importlib.metadata import version

    conformance = f"on, against {SPEC_PATH}" if load_spec() is not None else f"skipped: {MISSING_REASON}"
    return [f"haystack-ai {version('haystack-ai')}", f"Jina OpenAPI conformance of request bodies: {conformance}"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nonconforming: the test sends request bodies that break Jina's spec on purpose")


@pytest.fixture(scope="session", autouse=True)
def _emulators_report_requests() -> Iterator[None]:
    with recording_emulators():
        yield


@pytest.fixture(autouse=True)
def spec_conformance(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """After each test, every body it sent to a checked path (conformance.CHECKED_PATHS) must conform to Jina's spec."""
    with recorder() as sent:
        yield sent
        if load_spec() is not None and request.node.get_closest_marker("nonconforming") is None:
            sent.assert_conforming()
