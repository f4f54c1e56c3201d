"""Pick and load the embedding backend named by the settings."""

from __future__ import annotations

from rag.embed.base import Embedder, packaged_model_path, quiet_hf_environment
from rag.embed.fake import FakeEmbedder
from rag.progress import Reporter
from rag.settings import Settings


def load_embedder(settings: Settings, reporter: Reporter | None = None) -> Embedder:
    """The backend of RAG_EMBED_BACKEND; the ONNX ones export the model first if needed."""
    if settings.embed_backend == "fake":
        return FakeEmbedder()
    quiet_hf_environment()
    path = settings.model_path or packaged_model_path()
    if settings.embed_backend in ("onnx", "onnx-int8"):
        from rag.embed.onnx_runtime import OnnxEmbedder

        return OnnxEmbedder.from_model_dir(
            path,
            settings.model_id,
            quantized=settings.embed_backend == "onnx-int8",
            cache_dir=settings.onnx_dir,
            threads=settings.query_threads,
            reporter=reporter,
        )
    from rag.embed.torch_backend import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.load(path, settings.model_id, threads=settings.query_threads)
