"""ONNX Runtime embedder: the same MiniLM weights, without torch at query time.

Importing torch + sentence-transformers costs seconds and dominates a fresh process's start,
so the query path here needs only onnxruntime, tokenizers and numpy. The graph is exported
once from the packaged weights (that step does import torch) and cached:

    <cache_dir>/<model>-<hash>/model.onnx        fp32, fused by the ORT transformer optimizer
    <cache_dir>/<model>-<hash>/model-int8.onnx   dynamic int8 (per-channel weights)
    <cache_dir>/<model>-<hash>/export.json       recipe, versions, parity with torch

<hash> covers the weights, config and tokenizer files and the export recipe, so other weights
(or a new recipe) export afresh. Every file is written to a temp name and renamed into place,
and concurrent exports are serialised with a lock file, so readers never see half a model.

Pre- and post-processing follow the sentence-transformers pipeline in the model folder:
tokenizer.json truncated to max_seq_length (sentence_bert_config.json) and padded per batch,
mean pooling over the attention mask (1_Pooling), then L2 normalisation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelLoadError
from rag.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = PROJECT_ROOT / "models" / "onnx"
# Bump when the export or quantisation recipe changes: the cache key includes it.
EXPORT_RECIPE = "v1:opset17:eager-attn:ort-bert-fusion:int8-dyn-perchannel-matmul"
OPSET = 17
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
EXPORT_META = "export.json"
FINGERPRINTS = "fingerprints.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Texts the export is checked on against torch (short, padded, truncated).
PROBES = (
    "Where will NATO's new command for coordinating military aid to Ukraine be based?",
    "Ramstein",
    "The alliance agreed to take over the coordination of Western security assistance. " * 40,
)
MIN_FP32_COSINE = 0.999


@dataclass(frozen=True)
class PipelineConfig:
    """What the sentence-transformers folder says about pre- and post-processing."""

    dim: int
    max_seq_length: int
    num_heads: int
    hidden_size: int
    normalize: bool


@dataclass(frozen=True)
class ExportInfo:
    recipe: str
    source_hash: str
    model_dir: str
    torch_version: str
    onnxruntime_version: str
    seconds: float
    fp32_min_cosine: float
    int8_min_cosine: float


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


def _weights_file(model_dir: Path) -> Path:
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelLoadError(f"No model weights ({' or '.join(WEIGHT_FILES)}) in {model_dir}.")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # mkstemp's 0600 would hide a shared cache
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def source_hash(model_dir: Path, cache_dir: Path) -> str:
    """sha256 over weights, config, tokenizer and recipe.

    Hashing 90 MB of weights takes ~0.2 s, a noticeable share of a cold start, so the digest
    is memoised in the cache folder keyed by the files' path, size and mtime.
    """
    files = [_weights_file(model_dir)] + [
        model_dir / name
        for name in ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json")
        if (model_dir / name).is_file()
    ]
    stats = [f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    memo_key = hashlib.sha256("|".join([EXPORT_RECIPE, *stats]).encode()).hexdigest()
    memo_path = cache_dir / FINGERPRINTS
    memo: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(memo_path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            memo = {str(k): str(v) for k, v in loaded.items()}
    if memo_key in memo:
        return memo[memo_key]
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for f in files:
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    value = digest.hexdigest()
    memo[memo_key] = value
    with contextlib.suppress(OSError):  # a read-only cache still works, just slower
        cache_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(memo_path, json.dumps(memo, indent=1).encode())
    return value


def export_folder(model_dir: Path, cache_dir: Path) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in model_dir.name)[:40] or "model"
    return cache_dir / f"{slug}-{source_hash(model_dir, cache_dir)[:16]}"


@contextlib.contextmanager
def _export_lock(cache_dir: Path) -> Iterator[None]:
    """One exporter at a time per cache folder; the others wait, then reuse its files."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".export.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (FP32_FILE, INT8_FILE, EXPORT_META))


def default_cache_dir() -> Path:
    return Path(os.environ.get("RAG_ONNX_DIR") or DEFAULT_CACHE_DIR)


def ensure_exported(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """The folder holding model.onnx and model-int8.onnx for these weights, exported if missing."""
    cache_dir = Path(cache_dir or default_cache_dir())
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"Embedding model folder not found: {model_dir}. Set RAG_MODEL_PATH.")
    try:
        folder = export_folder(model_dir, cache_dir)
        if _complete(folder):
            return folder
        with _export_lock(cache_dir):
            if not _complete(folder):  # another process may have finished it while we waited
                export_onnx(model_dir, folder)
    except ModelLoadError:
        raise
    except OSError as exc:
        raise ModelLoadError(f"Cannot write the ONNX cache in {cache_dir}: {exc}") from exc
    except Exception as exc:  # torch/onnx/onnxruntime raise many types while exporting
        raise ModelLoadError(
            f"Exporting {model_dir} to ONNX failed ({type(exc).__name__}: {exc}). "
            "Use RAG_EMBED_BACKEND=torch, or RAG_DEBUG=1 for a traceback."
        ) from exc
    return folder


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """The exporter's libraries reconfigure the root logger (a DEBUG handler that later prints
    every bm25s message); put it back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def export_onnx(model_dir: Path, folder: Path) -> ExportInfo:
    """Export fp32 + int8 graphs from the weights in model_dir into folder (imports torch)."""
    with _logging_restored():
        return _export_onnx(model_dir, folder)


def _export_onnx(model_dir: Path, folder: Path) -> ExportInfo:
    started = time.perf_counter()
    log.info("Exporting %s to ONNX in %s (once per model)", model_dir, folder)
    cfg = read_pipeline_config(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    try:
        raw, reference, torch_version = _torch_export(model_dir, cfg, work / "raw.onnx")
        fp32 = work / FP32_FILE
        _optimise(raw, fp32, cfg)
        int8 = work / INT8_FILE
        _quantise(fp32, int8)
        fp32_cos = _min_cosine(fp32, model_dir, reference)
        int8_cos = _min_cosine(int8, model_dir, reference)
        if fp32_cos < MIN_FP32_COSINE:
            raise ModelLoadError(
                f"The ONNX export of {model_dir} does not reproduce the torch model "
                f"(cosine {fp32_cos:.5f} < {MIN_FP32_COSINE}); use RAG_EMBED_BACKEND=torch."
            )
        import onnxruntime

        info = ExportInfo(
            recipe=EXPORT_RECIPE,
            source_hash=source_hash(model_dir, folder.parent),
            model_dir=str(model_dir),
            torch_version=torch_version,
            onnxruntime_version=onnxruntime.__version__,
            seconds=round(time.perf_counter() - started, 2),
            fp32_min_cosine=round(fp32_cos, 6),
            int8_min_cosine=round(int8_cos, 6),
        )
        for name in (FP32_FILE, INT8_FILE):
            with open(work / name, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(work / name, folder / name)
        # Written last: its presence marks the folder complete.
        _atomic_write(folder / EXPORT_META, json.dumps(asdict(info), indent=2).encode())
    finally:
        for leftover in work.glob("*"):
            leftover.unlink(missing_ok=True)
        work.rmdir()
    log.info("ONNX export done in %.1f s", info.seconds)
    return info


def _torch_export(model_dir: Path, cfg: PipelineConfig, out: Path) -> tuple[Path, Any, str]:
    """torch -> ONNX with dynamic batch and sequence axes; also returns torch's embeddings
    of PROBES, pooled exactly as sentence-transformers does, for the parity check."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelLoadError(
            f"Exporting the ONNX model needs torch and transformers ({exc}); "
            "install them or copy a ready models/onnx folder."
        ) from exc
    # Eager attention traces to plain MatMul/Softmax, which ORT fuses into its Attention op.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    wrapper = TokenEmbeddings(model)
    tokenizer = _tokenizer(model_dir / "tokenizer.json", cfg)
    ids, mask = _pad([e.ids for e in tokenizer.encode_batch(list(PROBES))])
    inputs = tuple(torch.from_numpy(a) for a in (ids, mask, np.zeros_like(ids)))
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        # Before exporting: a traced model returned different numbers afterwards (measured).
        reference = _pool(wrapper(*inputs).numpy(), mask, normalize=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about shape-dependent Python branches
        torch.onnx.export(
            wrapper,
            inputs,
            str(out),
            dynamo=False,  # the TorchScript exporter needs no onnxscript
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "token_embeddings": axes,
            },
            do_constant_folding=True,
        )
    return out, reference, str(torch.__version__)


def _optimise(raw: Path, out: Path, cfg: PipelineConfig) -> None:
    """Fuse attention, layer norm and GELU (ORT's BERT optimizer), saved so loading is quick."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimised = optimize_model(
        str(raw), model_type="bert", num_heads=cfg.num_heads, hidden_size=cfg.hidden_size
    )
    optimised.save_model_to_file(str(out))


def _quantise(fp32: Path, out: Path) -> None:
    """Dynamic int8. Per-channel weight scales and fp32 attention keep cosine ~0.99 with fp32;
    per-tensor scales or quantised attention cost MiniLM several points (measured)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs every tensor at INFO and a pre-processing hint at WARNING on the root
    # logger; neither is actionable here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            # The fused contrib ops defeat shape inference; their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def _min_cosine(graph: Path, model_dir: Path, reference: np.ndarray) -> float:
    embedder = OnnxEmbedder(
        graph, model_dir / "tokenizer.json", "check", read_pipeline_config(model_dir)
    )
    got = embedder.encode(list(PROBES))
    return float((got * reference).sum(axis=1).min())


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
    threads: 1 by default (RAG_TORCH_THREADS), since a second thread saves ~1.5 ms of ~5 but
    costs CPU that concurrent requests need. A batch (indexing) runs on `batch_threads`
    (default: up to 2 cores, ~1.9x faster than 1), in a session created on first use, so a
    server that only answers queries never loads it. Output rows are always L2-normalised (the
    Embedder protocol), as the model's Normalize module does.
    """

    def __init__(
        self,
        graph: Path,
        tokenizer_file: Path,
        model_id: str,
        config: PipelineConfig,
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
        self._tokenizer = _tokenizer(tokenizer_file, config)
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._query_session = self._session(self.threads)
        self._batch_session: Any = (
            self._query_session if self.batch_threads == self.threads else None
        )
        self._inputs = {i.name for i in self._query_session.get_inputs()}

    @classmethod
    def from_model_dir(
        cls,
        path: Path,
        model_id: str,
        quantized: bool = False,
        *,
        cache_dir: Path | None = None,
        threads: int = 1,
        batch_threads: int | None = None,
    ) -> OnnxEmbedder:
        """Load the cached graph for the weights in `path`, exporting it first if missing."""
        path = Path(path)
        folder = ensure_exported(path, cache_dir)
        config = read_pipeline_config(path)
        return cls(
            folder / (INT8_FILE if quantized else FP32_FILE),
            path / "tokenizer.json",
            model_id,
            config,
            threads=threads,
            batch_threads=batch_threads,
        )

    def _session(self, threads: int) -> Any:
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
            return ort.InferenceSession(
                str(self.graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception classes
            raise ModelLoadError(f"Cannot load the ONNX model {self.graph}: {exc}") from exc

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
                self._batch_session = self._session(self.batch_threads)
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
