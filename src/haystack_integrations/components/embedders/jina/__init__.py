from haystack_integrations.components.embedders.jina.document_embedder import JinaDocumentEmbedder
from haystack_integrations.components.embedders.jina.document_image_embedder import JinaDocumentImageEmbedder
from haystack_integrations.components.embedders.jina.text_embedder import JinaTextEmbedder

__all__ = ["JinaDocumentEmbedder", "JinaDocumentImageEmbedder", "JinaTextEmbedder"]
