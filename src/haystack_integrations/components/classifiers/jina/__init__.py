from haystack_integrations.components.classifiers.jina.document_classifier import JinaDocumentClassifier
from haystack_integrations.components.classifiers.jina.training import train_classifier

__all__ = ["JinaDocumentClassifier", "train_classifier"]
