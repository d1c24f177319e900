from haystack_integrations.components.classifiers.jina.document_classifier import JinaDocumentClassifier
from haystack_integrations.components.classifiers.jina.training import (
    delete_classifier,
    list_classifiers,
    train_classifier,
)

__all__ = ["JinaDocumentClassifier", "delete_classifier", "list_classifiers", "train_classifier"]
