from __future__ import annotations

import json
from pathlib import Path

import faiss
import pytest

from rag.embed import FakeEmbedder
from rag.errors import IndexCorruptedError, IndexMismatchError, SeedReadError
from rag.files import exclusive_lock
from rag.settings import Settings
from rag.store import build_index, ensure_index, load_index
from rag.store import index as store
from rag.store.layout import KEEP_BUILDS, LOCK, MANIFEST_FILE
from rag.store.manifest import MANIFEST


def _live(settings: Settings) -> Path:
    return settings.index_dir / (settings.index_dir / "CURRENT").read_text().strip()


def test_build_writes_faiss_json_and_manifest(settings: Settings) -> None:
    built = build_index(settings, FakeEmbedder())
    live = _live(settings)
    assert {p.name for p in live.iterdir()} == {
        "manifest.json",
        "records.json",
        "annotations.json",
        "chunks.faiss",
        "sentences.faiss",
        "words.faiss",
    }
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["embedding"] == {
        "model_id": "fake-sha256-384",
        "fingerprint": "fake-sha256-384",
        "backend": "fake",
        "dim": 384,
    }
    assert manifest["chunking"]["sentences"] == 3 and manifest["chunking"]["overlap"] == 1
    assert set(manifest["seeds"]) >= {p.name for p in settings.seeds_dir.glob("*.txt")}
    assert manifest["built_at"] and manifest["index"]["chunks"] == len(built.chunks)
    assert faiss.read_index(str(live / "chunks.faiss")).ntotal == len(built.chunks)


def test_load_round_trips(settings: Settings) -> None:
    built = build_index(settings, FakeEmbedder())
    loaded = load_index(settings, FakeEmbedder())
    assert loaded.chunks == built.chunks and loaded.sentences == built.sentences
    assert (loaded.sentence_vectors == built.sentence_vectors).all()


def test_first_use_builds_and_second_use_reuses(settings: Settings) -> None:
    first = ensure_index(settings, FakeEmbedder())
    second = ensure_index(settings, FakeEmbedder())
    assert first.path == second.path


def test_rebuilds_when_a_seed_changes(settings: Settings) -> None:
    first = ensure_index(settings, FakeEmbedder())
    seed = settings.seeds_dir / "002_6ed1ac909a21d9b7.txt"
    seed.write_text(seed.read_text() + "\nNATO added a brand-new paragraph about Zanzibar.\n")
    second = ensure_index(settings, FakeEmbedder())
    assert second.path != first.path
    assert second.manifest["seeds"][seed.name] != first.manifest["seeds"][seed.name]
    assert any("Zanzibar" in c.text for c in second.chunks)


def test_rebuilds_when_chunk_settings_change(settings: Settings) -> None:
    first = ensure_index(settings, FakeEmbedder())
    wider = settings.model_copy(update={"chunk_sentences": 4})
    second = ensure_index(wider, FakeEmbedder())
    assert second.path != first.path and len(second.chunks) < len(first.chunks)


def test_mismatch_without_auto_index_says_what_to_do(settings: Settings) -> None:
    ensure_index(settings, FakeEmbedder())
    (settings.seeds_dir / "000_14cb71510f2b07a6.txt").write_text("Changed.\n")
    strict = settings.model_copy(update={"auto_index": False})
    with pytest.raises(
        IndexMismatchError, match=r"seed files changed: 000_14cb71510f2b07a6\.txt.*rag index"
    ):
        ensure_index(strict, FakeEmbedder())


def test_failure_mid_build_leaves_previous_index_usable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = build_index(settings, FakeEmbedder())
    before = sorted(p.name for p in settings.index_dir.iterdir())

    calls = {"n": 0}
    real_write = store._write_faiss

    def crash_on_second_write(index, path):  # the chunk file lands, then the "disk" fails
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real_write(index, path)

    monkeypatch.setattr(store, "_write_faiss", crash_on_second_write)
    with pytest.raises(OSError, match="disk full"):
        build_index(settings, FakeEmbedder())
    assert sorted(p.name for p in settings.index_dir.iterdir()) == before  # no half build left
    monkeypatch.undo()
    survivor = load_index(settings, FakeEmbedder())
    assert survivor.path == good.path and survivor.chunks == good.chunks


def test_crash_between_write_and_switch_keeps_old_pointer(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = build_index(settings, FakeEmbedder())

    def boom(index_dir: Path, name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_switch_current", boom)
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, FakeEmbedder())
    monkeypatch.undo()
    assert load_index(settings, FakeEmbedder()).path == good.path


@pytest.mark.parametrize(
    "victim", ["manifest.json", "records.json", "annotations.json", "chunks.faiss"]
)
def test_corrupted_files_give_a_clear_error(settings: Settings, victim: str) -> None:
    build_index(settings, FakeEmbedder())
    (_live(settings) / victim).write_bytes(b"\x00garbage{")
    with pytest.raises(IndexCorruptedError, match="rag index"):
        ensure_index(settings, FakeEmbedder())


def test_wrong_model_is_a_mismatch(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    strict = settings.model_copy(update={"auto_index": False})
    with pytest.raises(IndexMismatchError, match="embedding differs"):
        load_index(strict, FakeEmbedder(dim=128))


def test_old_builds_are_pruned_and_the_live_one_kept(settings: Settings) -> None:
    for _ in range(4):
        last = build_index(settings, FakeEmbedder())
    assert len(list(settings.index_dir.glob("build-*"))) == KEEP_BUILDS
    assert _live(settings) == last.path and last.path.is_dir()
    assert load_index(settings, FakeEmbedder()).path == last.path


@pytest.mark.parametrize("pointer", [b"\xff\xfe garbage", b"../../etc", b"build-gone-123"])
def test_bad_or_dangling_pointer_means_rebuild(settings: Settings, pointer: bytes) -> None:
    build_index(settings, FakeEmbedder())
    (settings.index_dir / "CURRENT").write_bytes(pointer)
    strict = settings.model_copy(update={"auto_index": False})
    with pytest.raises(IndexMismatchError, match="No index"):
        load_index(strict, FakeEmbedder())
    rebuilt = ensure_index(settings, FakeEmbedder())
    assert _live(settings) == rebuilt.path


def test_seeds_of_only_page_junk_are_a_clear_error(settings: Settings) -> None:
    for path in settings.seeds_dir.glob("*.txt"):
        path.write_text("  • Oops!\n    Something went wrong.\n")
    with pytest.raises(SeedReadError, match="No article text"):
        ensure_index(settings, FakeEmbedder())
    assert not (settings.index_dir / "CURRENT").exists()


def test_a_seed_edited_after_indexing_is_noticed(settings: Settings) -> None:
    built = ensure_index(settings, FakeEmbedder())
    seed = settings.seeds_dir / "004_b166df79e4af366c.txt"
    seed.write_text("Prefix that shifts every offset. " + seed.read_text())
    strict = settings.model_copy(update={"auto_index": False})
    with pytest.raises(IndexMismatchError, match="004_b166df79e4af366c"):
        load_index(strict, FakeEmbedder())
    again = ensure_index(settings, FakeEmbedder())
    assert again.path != built.path
    text = seed.read_text()
    assert all(text[c.start : c.end] == c.text for c in again.chunks if c.doc_id == seed.name)


def test_another_model_folder_is_a_mismatch(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    other = FakeEmbedder()
    other.fingerprint = "a-different-checkpoint"  # type: ignore[attr-defined]
    strict = settings.model_copy(update={"auto_index": False})
    with pytest.raises(IndexMismatchError, match="embedding differs"):
        load_index(strict, other)


def test_concurrent_ensure_builds_once(settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        paths = {
            r.path for r in pool.map(lambda _: ensure_index(settings, FakeEmbedder()), range(4))
        }
    assert len(paths) == 1
    assert len(list(settings.index_dir.glob("build-*"))) == 1


def _leave_leftovers(index_dir: Path) -> list[Path]:
    """What `kill -9` during a build leaves: a half-written CURRENT and a build folder
    with vectors but no manifest."""
    tmp = index_dir / ".CURRENT.k1ll3d.tmp"
    tmp.write_bytes(b"build-half")
    partial = index_dir / "build-20240101T000000-killed"
    partial.mkdir()
    (partial / "chunks.faiss").write_bytes(b"partial")
    return [tmp, partial]


def test_start_up_removes_what_a_killed_build_left(settings: Settings) -> None:
    first = build_index(settings, FakeEmbedder())
    leftovers = _leave_leftovers(settings.index_dir)
    loaded = ensure_index(settings, FakeEmbedder())
    assert loaded.path == first.path and loaded.path.is_dir()
    assert not any(p.exists() for p in leftovers)


def test_leftovers_are_kept_while_another_process_holds_the_build_lock(
    settings: Settings,
) -> None:
    build_index(settings, FakeEmbedder())
    leftovers = _leave_leftovers(settings.index_dir)
    with exclusive_lock(settings.index_dir / LOCK):  # as if another process were building
        ensure_index(settings, FakeEmbedder())
        assert all(p.exists() for p in leftovers)
    build_index(settings, FakeEmbedder())  # a build cleans up first, under the lock
    assert not any(p.exists() for p in leftovers)


def test_the_layout_knows_the_manifest_file_name() -> None:
    assert MANIFEST_FILE == MANIFEST
