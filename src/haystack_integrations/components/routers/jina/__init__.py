from haystack_integrations.components.routers.jina.text_router import JinaTextRouter

__all__ = ["JinaTextRouter"]
