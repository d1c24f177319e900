"""Where `gather_ordered` and `progress` lived before `batches.py`; kept importable from here."""

from haystack_integrations.common.jina.batches import gather_ordered, progress

__all__ = ["gather_ordered", "progress"]
