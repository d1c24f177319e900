from haystack_integrations.components.connectors.jina.reader import JinaReaderConnector
from haystack_integrations.components.connectors.jina.reader_mode import JinaReaderMode

__all__ = ["JinaReaderConnector", "JinaReaderMode"]
