"""The index folder's layout: build folders, the CURRENT pointer, the build lock, pruning.

CURRENT                 name of the live build folder (replaced atomically)
build-<time>-<id>/      manifest.json, chunks.faiss, sentences.faiss, words.faiss,
                        records.json, annotations.json
.lock                   held while building, switching and pruning
.CURRENT.<random>.tmp   CURRENT being replaced (left behind only by a killed process)
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rag.files import atomic_write, exclusive_lock, fsync_dir, try_exclusive_lock

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK = ".lock"
MANIFEST_FILE = "manifest.json"  # rag.store.manifest.MANIFEST: written last in a build
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


def remove_leftovers(index_dir: Path) -> list[str]:
    """Delete what a killed build leaves behind: temporary CURRENT files and build folders
    without a manifest (the manifest is the last file a build writes). Call under the build
    lock, so no build in progress is touched; returns the names removed."""
    live = current_build(index_dir)
    removed = []
    for path in sorted(index_dir.glob(f".{CURRENT}.*.tmp")):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    for path in sorted(index_dir.glob("build-*")):
        if path.is_dir() and path != live and not (path / MANIFEST_FILE).is_file():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        log.info("removed leftovers of an interrupted build in %s: %s", index_dir, removed)
    return removed


def clean_leftovers(index_dir: Path) -> None:
    """`remove_leftovers` at start-up, if the build lock is free: a process that is building
    holds it, and its folder is not a leftover (the next start cleans up instead)."""
    if not index_dir.is_dir():
        return
    with try_exclusive_lock(index_dir / LOCK) as locked:
        if locked:
            remove_leftovers(index_dir)
