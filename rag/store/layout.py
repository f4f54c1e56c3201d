"""The index folder's layout: build folders, the CURRENT pointer, the build lock, pruning.

CURRENT                 name of the live build folder (replaced atomically)
build-<time>-<id>/      manifest.json, chunks.faiss, sentences.faiss, records.json
.lock                   held while building, switching and pruning
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rag.files import atomic_write, exclusive_lock, fsync_dir

CURRENT = "CURRENT"
LOCK = ".lock"
KEEP_BUILDS = 2  # the live build and the one before it
_BUILD_NAME = re.compile(r"build-[\w-]+")


def current_build(index_dir: Path) -> Path | None:
    """The live build folder, or None when CURRENT is missing, unreadable or names nothing."""
    try:
        name = (index_dir / CURRENT).read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeError):
        return None
    if not _BUILD_NAME.fullmatch(name) or not (index_dir / name).is_dir():
        return None
    return index_dir / name


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive across processes: one build, switch and prune at a time."""
    with exclusive_lock(index_dir / LOCK):
        yield


def new_build_folder(index_dir: Path) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    build = Path(tempfile.mkdtemp(prefix=f"build-{stamp}-", dir=index_dir))
    build.chmod(0o755)  # mkdtemp's 0700 would lock out a server running as another user
    return build


def switch_current(index_dir: Path, build_name: str) -> None:
    atomic_write(index_dir / CURRENT, build_name.encode("utf-8"))
    fsync_dir(index_dir)


def remove_old_builds(index_dir: Path, keep: str) -> None:
    """Keep the live build and the newest other one; called under the build lock."""

    def age(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    builds = sorted(
        (p for p in index_dir.glob("build-*") if p.is_dir() and p.name != keep), key=age
    )
    for old in builds[: max(len(builds) - (KEEP_BUILDS - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)
