"""Embedding: the `Embedder` role and its backends (ONNX Runtime by default, torch, a fake)."""

from rag.embed.base import Embedder, SerializedEmbedder, model_fingerprint, packaged_model_path
from rag.embed.fake import FakeEmbedder
from rag.embed.loader import load_embedder

__all__ = [
    "Embedder",
    "FakeEmbedder",
    "SerializedEmbedder",
    "load_embedder",
    "model_fingerprint",
    "packaged_model_path",
]
