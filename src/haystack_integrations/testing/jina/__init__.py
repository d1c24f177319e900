"""A local, Jina-compatible HTTP server for tests and offline examples. A test double, not a model."""

from haystack_integrations.testing.jina.server import (
    DEFAULT_API_KEY,
    ApiError,
    Fault,
    JinaEmulator,
    RecordedRequest,
    Reply,
    route,
)

__all__ = ["DEFAULT_API_KEY", "ApiError", "Fault", "JinaEmulator", "RecordedRequest", "Reply", "route"]
