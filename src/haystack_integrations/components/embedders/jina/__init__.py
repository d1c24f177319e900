from haystack_integrations.components.embedders.jina.batch_document_embedder import JinaBatchDocumentEmbedder
from haystack_integrations.components.embedders.jina.document_embedder import JinaDocumentEmbedder
from haystack_integrations.components.embedders.jina.document_image_embedder import JinaDocumentImageEmbedder
from haystack_integrations.components.embedders.jina.document_media_embedder import JinaDocumentMediaEmbedder
from haystack_integrations.components.embedders.jina.media_embedder import JinaMediaEmbedder
from haystack_integrations.components.embedders.jina.sparse_document_embedder import JinaSparseDocumentEmbedder
from haystack_integrations.components.embedders.jina.sparse_text_embedder import JinaSparseTextEmbedder
from haystack_integrations.components.embedders.jina.text_embedder import JinaTextEmbedder

__all__ = [
    "JinaBatchDocumentEmbedder",
    "JinaDocumentEmbedder",
    "JinaDocumentImageEmbedder",
    "JinaDocumentMediaEmbedder",
    "JinaMediaEmbedder",
    "JinaSparseDocumentEmbedder",
    "JinaSparseTextEmbedder",
    "JinaTextEmbedder",
]
