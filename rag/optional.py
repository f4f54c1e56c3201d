"""Imports of optional packages (extras), with a clear error when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from rag.errors import MissingDependencyError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or say which extra provides it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the optional package {exc.name!r}: "
            f"pip install 'nato-rag[{extra}]' (or `make setup`, which installs everything)."
        ) from exc
