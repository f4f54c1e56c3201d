"""The manifest: what an index was built from, compared with what the settings want now."""

from __future__ import annotations

from typing import Any

from rag.analyze import Annotator
from rag.answer.model import model_sha256
from rag.embed import Embedder
from rag.ingest.sources import Source
from rag.settings import Settings
from rag.text.tokens import TERMS_VERSION

# 2: sentence annotations (annotations.json); 3: line roles, documents' metadata in
# records.json, the library of added articles, incremental builds; 4: the vocabulary's
# word vectors (words.faiss)
FORMAT_VERSION = 4
MANIFEST = "manifest.json"
ARTICLES = "seeds"  # the manifest's key for the articles (seeds and library) and their keys


def expected_manifest(
    settings: Settings, embedder: Embedder, sources: list[Source], annotator: Annotator
) -> dict[str, Any]:
    """The parts of a manifest that must match for a stored index to be reused.

    Each article's key covers the hash of the very bytes its text was decoded from (so the
    offsets cited later refer to the text that was indexed) and the metadata given for it
    (a sidecar entry, the user's title or date).
    """
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
            "author_lines": settings.index_author_lines,
            "terms": TERMS_VERSION,
        },
        "index_settings": {"hnsw_threshold": settings.hnsw_threshold},
        # sentence annotations are stored with the index; the answer model reads them
        "annotation": annotator.version,
        "answer_model": model_sha256(settings.answer_model_path),
        ARTICLES: {s.doc_id: s.key for s in sources},
    }


def differences(stored: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Why a stored manifest does not match, one reason per differing part."""
    reasons = []
    for key, want in expected.items():
        have = stored.get(key)
        if have == want:
            continue
        if key == ARTICLES and isinstance(have, dict) and isinstance(want, dict):
            changed = sorted(set(have) ^ set(want) | {k for k in want if have.get(k) != want[k]})
            reasons.append(f"seed files changed: {', '.join(changed)}")
        else:
            reasons.append(f"{key} differs (index has {have!r}, settings want {want!r})")
    return reasons
