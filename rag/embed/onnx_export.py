"""The one-off ONNX export of a sentence-transformers folder, cached (imports torch).

The query path (rag/embed/onnx_runtime.py) needs only onnxruntime, tokenizers and numpy;
the graph is exported once from the packaged weights and cached:

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
import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.base import quiet_hf_environment
from rag.embed.onnx_runtime import (
    FP32_FILE,
    INT8_FILE,
    OnnxEmbedder,
    PipelineConfig,
    _pad,
    _pool,
    _tokenizer,
    read_pipeline_config,
)
from rag.errors import ModelLoadError
from rag.files import atomic_write, exclusive_lock, fsync_file
from rag.progress import LogReporter, Reporter
from rag.settings import DEFAULT_ONNX_DIR

log = logging.getLogger(__name__)

# Bump when the export or quantisation recipe changes: the cache key includes it.
EXPORT_RECIPE = "v1:opset17:eager-attn:ort-bert-fusion:int8-dyn-perchannel-matmul"
OPSET = 17
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
class ExportInfo:
    recipe: str
    source_hash: str
    model_dir: str
    torch_version: str
    onnxruntime_version: str
    seconds: float
    fp32_min_cosine: float
    int8_min_cosine: float


def _weights_file(model_dir: Path) -> Path:
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelLoadError(f"No model weights ({' or '.join(WEIGHT_FILES)}) in {model_dir}.")


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
        atomic_write(memo_path, json.dumps(memo, indent=1).encode())
    return value


def export_folder(model_dir: Path, cache_dir: Path) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in model_dir.name)[:40] or "model"
    return cache_dir / f"{slug}-{source_hash(model_dir, cache_dir)[:16]}"


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (FP32_FILE, INT8_FILE, EXPORT_META))


def ensure_exported(
    model_dir: Path, cache_dir: Path = DEFAULT_ONNX_DIR, reporter: Reporter | None = None
) -> Path:
    """The folder holding model.onnx and model-int8.onnx for these weights, exported if missing."""
    cache_dir = Path(cache_dir)
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"Embedding model folder not found: {model_dir}. Set RAG_MODEL_PATH.")
    try:
        folder = export_folder(model_dir, cache_dir)
        if _complete(folder):
            return folder
        # One exporter at a time per cache folder; the others wait, then reuse its files.
        with exclusive_lock(cache_dir / ".export.lock"):
            if not _complete(folder):  # another process may have finished it while we waited
                with (reporter or LogReporter()).step(
                    "exporting the embedding model to ONNX (one-off)"
                ):
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
            fsync_file(work / name)
            os.replace(work / name, folder / name)
        # Written last: its presence marks the folder complete.
        atomic_write(folder / EXPORT_META, json.dumps(asdict(info), indent=2).encode())
    finally:
        for leftover in work.glob("*"):
            leftover.unlink(missing_ok=True)
        work.rmdir()
    log.info("ONNX export done in %.1f s", info.seconds)
    return info


def _torch_export(model_dir: Path, cfg: PipelineConfig, out: Path) -> tuple[Path, Any, str]:
    """torch -> ONNX with dynamic batch and sequence axes; also returns torch's embeddings
    of PROBES, pooled exactly as sentence-transformers does, for the parity check."""
    quiet_hf_environment()
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
    embedder = OnnxEmbedder.load(
        graph, model_dir / "tokenizer.json", "check", read_pipeline_config(model_dir)
    )
    got = embedder.encode(list(PROBES))
    return float((got * reference).sum(axis=1).min())
