from haystack_integrations.components.rankers.jina.ranker import JinaRanker

__all__ = ["JinaRanker"]
