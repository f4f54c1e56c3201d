"""ONNX Runtime embedder: the same MiniLM weights, without torch at query time.

Importing torch + sentence-transformers costs seconds and dominates a fresh process's start,
so this query path needs only onnxruntime, tokenizers and numpy; the graph comes from the
one-off export in rag/embed/onnx_export.py.

Pre- and post-processing follow the sentence-transformers pipeline in the model folder:
tokenizer.json truncated to max_seq_length (sentence_bert_config.json) and padded per batch,
mean pooling over the attention mask (1_Pooling), then L2 normalisation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelLoadError
from rag.progress import Reporter
from rag.settings import DEFAULT_ONNX_DIR

FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"


@dataclass(frozen=True)
class PipelineConfig:
    """What the sentence-transformers folder says about pre- and post-processing."""

    dim: int
    max_seq_length: int
    num_heads: int
    hidden_size: int
    normalize: bool


def read_pipeline_config(model_dir: Path) -> PipelineConfig:
    """Check the folder is transformer -> mean pooling (-> normalise) and read its sizes."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling_dir = next(
            (m["path"] for m in modules if m["type"].endswith("Pooling")), "1_Pooling"
        )
        pooling = json.loads((model_dir / pooling_dir / "config.json").read_text("utf-8"))
        st_config_path = model_dir / "sentence_bert_config.json"
        st_config = (
            json.loads(st_config_path.read_text(encoding="utf-8"))
            if st_config_path.is_file()
            else {}
        )
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise ModelLoadError(
            f"{model_dir} is not a readable sentence-transformers model folder: {exc}"
        ) from exc
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise ModelLoadError(
            f"The ONNX backend supports mean pooling only; {model_dir} uses {modes}. "
            "Use RAG_EMBED_BACKEND=torch for this model."
        )
    max_positions = int(config.get("max_position_embeddings", 512))
    max_seq = int(st_config.get("max_seq_length") or max_positions)
    return PipelineConfig(
        dim=int(pooling.get("word_embedding_dimension") or config["hidden_size"]),
        max_seq_length=min(max_seq, max_positions),
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        normalize=any(m["type"].endswith("Normalize") for m in modules),
    )


def _tokenizer(path: Path, cfg: PipelineConfig) -> Any:
    """A `tokenizers` tokenizer configured once: encode_batch then only reads it, so threads
    may share it (unlike a transformers fast tokenizer, which re-sets padding per call)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        raise ModelLoadError(f"Cannot read the tokenizer {path}: {exc}") from exc
    # The file ships a 128-token truncation and fixed padding; sentence-transformers overrides
    # both (max_seq_length, pad to the longest in the batch), and so do we.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=cfg.max_seq_length, strategy="longest_first")
    return tokenizer


def _pad(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(s) for s in sequences), default=0)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _session(graph: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # The graph is fused offline; ENABLE_ALL adds only cheap CPU-specific rewrites on load.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle pool threads spin-wait by default, burning the other core between requests.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception classes
        raise ModelLoadError(f"Cannot load the ONNX model {graph}: {exc}") from exc


def _pool(tokens: np.ndarray, mask: np.ndarray, normalize: bool) -> np.ndarray:
    """Mean over real tokens, then L2: sentence-transformers' Pooling + Normalize modules."""
    weights = mask[..., None].astype(np.float32)
    summed = np.einsum("bsd,bsx->bd", tokens.astype(np.float32), weights)
    vectors = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    if normalize:
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """Embedder protocol over an ONNX graph of a sentence-transformers model.

    Two onnxruntime sessions at most. A single text (a query) runs on `threads` intra-op
    threads: 1 by default (RAG_QUERY_THREADS), since a second thread saves ~1.5 ms of ~5 but
    costs CPU that concurrent requests need. A batch (indexing) runs on `batch_threads`
    (default: up to 2 cores, ~1.9x faster than 1), in a session created on first use, so a
    server that only answers queries never loads it. Output rows are always L2-normalised (the
    Embedder protocol), as the model's Normalize module does. The tokenizer is configured once
    and only read afterwards, so threads may share one embedder.
    """

    def __init__(
        self,
        graph: Path,
        tokenizer: Any,
        model_id: str,
        config: PipelineConfig,
        query_session: Any,
        *,
        threads: int = 1,
        batch_threads: int | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.model_id = model_id
        # Which weights and graph: the export folder is named by the weights' hash.
        self.fingerprint = fingerprint or f"onnx:{Path(graph).parent.name}/{Path(graph).name}"
        self.dim = config.dim
        self.graph = Path(graph)
        self.config = config
        self.threads = max(1, threads)
        self.batch_threads = max(1, batch_threads or min(2, os.cpu_count() or 1))
        self._tokenizer = tokenizer
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._query_session = query_session
        self._batch_session: Any = (
            self._query_session if self.batch_threads == self.threads else None
        )
        self._inputs = {i.name for i in self._query_session.get_inputs()}

    @classmethod
    def load(
        cls,
        graph: Path,
        tokenizer_file: Path,
        model_id: str,
        config: PipelineConfig,
        *,
        threads: int = 1,
        batch_threads: int | None = None,
        fingerprint: str | None = None,
    ) -> OnnxEmbedder:
        """Read the tokenizer and open the query session for an exported graph."""
        return cls(
            graph,
            _tokenizer(tokenizer_file, config),
            model_id,
            config,
            _session(Path(graph), max(1, threads)),
            threads=threads,
            batch_threads=batch_threads,
            fingerprint=fingerprint,
        )

    @classmethod
    def from_model_dir(
        cls,
        path: Path,
        model_id: str,
        quantized: bool = False,
        *,
        cache_dir: Path = DEFAULT_ONNX_DIR,
        threads: int = 1,
        batch_threads: int | None = None,
        reporter: Reporter | None = None,
    ) -> OnnxEmbedder:
        """Load the cached graph for the weights in `path`, exporting it first if missing."""
        # Imported here: the exporter imports this module (and torch, when it runs).
        from rag.embed.onnx_export import ensure_exported

        path = Path(path)
        folder = ensure_exported(path, cache_dir, reporter)
        config = read_pipeline_config(path)
        return cls.load(
            folder / (INT8_FILE if quantized else FP32_FILE),
            path / "tokenizer.json",
            model_id,
            config,
            threads=threads,
            batch_threads=batch_threads,
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        if len(texts) == 1:
            session = self._query_session
        else:
            if self._batch_session is None:
                self._batch_session = _session(self.graph, self.batch_threads)
            session = self._batch_session
        # Longest first, like sentence-transformers: batches of similar length waste no padding.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batch_size = max(1, batch_size)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = _pad([encodings[i].ids for i in rows], self._pad_id)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            tokens = session.run(None, feeds)[0]
            out[rows] = _pool(tokens, mask, normalize=True)
        return out
