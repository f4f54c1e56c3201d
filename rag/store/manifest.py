"""The manifest: what an index was built from, compared with what the settings want now."""

from __future__ import annotations

from typing import Any

from rag.analyze import Annotator
from rag.answer.model import model_sha256
from rag.embed import Embedder
from rag.ingest.corpus import METADATA_FILE, sha256_bytes
from rag.settings import Settings
from rag.types import Document

FORMAT_VERSION = 2  # 2: sentence annotations (annotations.json)
MANIFEST = "manifest.json"


def expected_manifest(
    settings: Settings, embedder: Embedder, documents: list[Document], annotator: Annotator
) -> dict[str, Any]:
    """The parts of a manifest that must match for a stored index to be reused.

    Seed hashes come from the very bytes the documents were decoded from, so the offsets
    cited later always refer to the text that was indexed.
    """
    seeds = {d.doc_id: d.sha256 for d in documents}
    sidecar = settings.seeds_dir / METADATA_FILE
    if sidecar.is_file():
        seeds[METADATA_FILE] = sha256_bytes(sidecar.read_bytes())
    return {
        "format_version": FORMAT_VERSION,
        "embedding": {
            "model_id": embedder.model_id,
            # which weights: another model folder with the same id and dimension must not
            # reuse these vectors
            "fingerprint": embedder.fingerprint,
            "backend": settings.embed_backend,
            "dim": embedder.dim,
        },
        "chunking": {
            "sentences": settings.chunk_sentences,
            "overlap": settings.chunk_overlap,
            "segmenter": "pysbd",
        },
        "index_settings": {"hnsw_threshold": settings.hnsw_threshold},
        # sentence annotations are stored with the index; the answer model reads them
        "annotation": annotator.version,
        "answer_model": model_sha256(settings.answer_model_path),
        "seeds": seeds,
    }


def differences(stored: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Why a stored manifest does not match, one reason per differing part."""
    reasons = []
    for key, want in expected.items():
        have = stored.get(key)
        if have == want:
            continue
        if key == "seeds" and isinstance(have, dict):
            changed = sorted(set(have) ^ set(want) | {k for k in want if have.get(k) != want[k]})
            reasons.append(f"seed files changed: {', '.join(changed)}")
        else:
            reasons.append(f"{key} differs (index has {have!r}, settings want {want!r})")
    return reasons
