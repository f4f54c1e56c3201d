"""Evaluation: question sets, metrics, the systems compared (the library, a running service,
baselines) and reports. Baselines and charts need the `eval` extra."""

from rag.eval.dataset import EvalItem, load_dataset
from rag.eval.metrics import METRIC_NAMES, RunReport, SystemReport
from rag.eval.systems import HttpSystem, PipelineSystem, System, evaluate

__all__ = [
    "METRIC_NAMES",
    "EvalItem",
    "HttpSystem",
    "PipelineSystem",
    "RunReport",
    "System",
    "SystemReport",
    "evaluate",
    "load_dataset",
]
