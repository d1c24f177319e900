from haystack_integrations.components.converters.jina.reader_converter import JinaReaderConverter

__all__ = ["JinaReaderConverter"]
