from haystack_integrations.components.fetchers.jina.reader_fetcher import JinaReaderFetcher

__all__ = ["JinaReaderFetcher"]
