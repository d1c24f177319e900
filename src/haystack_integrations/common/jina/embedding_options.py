"""
The embedders' request options: one `EmbeddingOptions` value, declared once, that becomes the optional body fields.

`JinaTextEmbedder` and `JinaDocumentEmbedder` take these options as parameters of the same names and keep them
as one `EmbeddingOptions` (each still readable as an attribute of its own name; see `OptionsComponentBase`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from haystack_integrations.common.jina.embeddings import check_dimensions, check_embedding_type, request_options
from haystack_integrations.common.jina.models import check_embedding_model


@dataclass(frozen=True)
class EmbeddingOptions:
    """The optional fields of an embeddings request; `None` leaves a field out, so the API's default applies."""

    task: str | None = None
    dimensions: int | None = None
    late_chunking: bool | None = None
    embedding_type: str = "float"
    normalized: bool | None = None
    truncate: bool | None = None

    @classmethod
    def of(cls, parameters: Mapping[str, Any]) -> EmbeddingOptions:
        """
        The options among a component's `__init__` arguments (its `locals()`), checked for its `model`.

        :raises ValueError: For an unknown `embedding_type`, `dimensions` that are not a positive whole number,
            or an option the model (if this package knows it) does not have.
        """
        check_embedding_type(parameters["embedding_type"])
        values = {option.name: parameters[option.name] for option in fields(cls)}
        options = cls(**{**values, "dimensions": check_dimensions(values["dimensions"])})
        check_embedding_model(parameters["model"], options.request_fields())
        return options

    def request_fields(self) -> dict[str, Any]:
        """The optional body fields (see `request_options`): `None` values are left out of the body."""
        return request_options(self)
