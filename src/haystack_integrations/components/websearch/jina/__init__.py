from haystack_integrations.components.websearch.jina.web_search import JinaWebSearch

__all__ = ["JinaWebSearch"]
