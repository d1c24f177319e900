"""Image inputs for the emulator's embeddings endpoint (extended by the image-embedder work)."""

from __future__ import annotations

from typing import Any

from haystack_integrations.testing.jina.server import ApiError


def image_vector(source: Any, index: int, dimensions: int) -> tuple[list[float], int]:
    """The vector of one image input and the tokens it costs."""
    raise ApiError(422, f"input[{index}]: image inputs are not supported by this emulator version.")
