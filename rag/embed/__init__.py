"""Embedding: the `Embedder` role and its backends (ONNX Runtime by default, torch, a fake)."""

from rag.embed.base import Embedder, SerializedEmbedder, model_fingerprint, packaged_model_path
from rag.embed.fake import FakeEmbedder
from rag.embed.loader import load_embedder
from rag.embed.words import WordVectors

__all__ = [
    "Embedder",
    "FakeEmbedder",
    "SerializedEmbedder",
    "WordVectors",
    "load_embedder",
    "model_fingerprint",
    "packaged_model_path",
]
