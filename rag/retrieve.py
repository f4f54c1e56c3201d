"""Hybrid retrieval: dense FAISS + BM25, fused with reciprocal rank fusion."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import bm25s
import faiss
import numpy as np
from rapidfuzz import fuzz, process

from rag.embed import Embedder
from rag.settings import Settings
from rag.store import LoadedIndex
from rag.text import STOPWORDS, content_terms, jaccard, stem, tokenize_for_bm25, words
from rag.types import Chunk, Passage


def _one_search_thread() -> None:
    # Single-query searches are latency-bound: extra OpenMP threads only add contention
    # (benchmarks/threads.py). The setting is per calling thread, so every searching thread
    # (the API's worker pool included) sets it for itself.
    faiss.omp_set_num_threads(1)


@dataclass
class Retrieval:
    query: str  # as searched, after spelling repair
    query_vector: np.ndarray
    passages: list[Passage]
    dense_ranking: list[int]
    sentence_ranking: list[int]
    bm25_ranking: list[int]


class Vocabulary:
    """Corpus words and sentence-level document frequencies, for spelling repair and IDF."""

    def __init__(self, texts: list[str]) -> None:
        self.words = sorted(
            {w.lower() for t in texts for w in words(t) if w.isalpha() and len(w) > 2}
        )
        self._known = set(self.words)
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(content_terms(text)))
        self.df = df
        self.n = len(texts)
        self.acronyms = _acronyms(texts)

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        return term in self.df

    def repair(self, query: str) -> str:
        """Replace misspelt words (unknown, close to a corpus word) with that word."""

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lowered = word.lower()
            if word.islower() and lowered in SHORTHAND and lowered not in self._known:
                return SHORTHAND[lowered]
            if word.isupper() and lowered not in self._known and word in self.acronyms:
                return self.acronyms[word]
            if len(lowered) < 4 or lowered in STOPWORDS or lowered in self._known:
                return word
            if stem(lowered) in self.df:
                return word
            best = process.extractOne(lowered, self.words, scorer=fuzz.ratio, score_cutoff=82)
            return best[0] if best else word

        # Whole words only: the "U" of "SAG-U" is not the shorthand "u".
        return re.sub(r"(?<![\w.-])[A-Za-z]+(?![\w-]|\.\w)", fix, query)


# Chat shorthand seen in typed questions; expanded before anything else looks at them.
SHORTHAND = {
    "ppl": "people",
    "govt": "government",
    "gov": "government",
    "hq": "headquarters",
    "intl": "international",
    "mil": "military",
    "bn": "billion",
    "mn": "million",
    "yr": "year",
    "yrs": "years",
    "abt": "about",
    "u": "you",
    "ur": "your",
    "secgen": "secretary general",
    "approx": "approximately",
    "dept": "department",
    "pres": "president",
    "amt": "amount",
    "num": "number",
}

_FUNCTION_WORDS = frozenset({"and", "for", "of", "the", "to", "in", "on"})


def _acronyms(texts: list[str]) -> dict[str, str]:
    """Initials of capitalised names ("NATO Security Assistance and Training for Ukraine"
    -> "NSATU"), so a question may use an acronym the articles never print."""
    out: dict[str, str] = {}
    name = re.compile(r"\b[A-Z][\w-]*(?:\s+(?:(?:and|for|of|the|to|in|on)\s+)?[A-Z][\w-]*){2,}")
    for text in texts:
        for match in name.finditer(text):
            parts = [w for w in match.group(0).split() if w not in _FUNCTION_WORDS]
            initials = "".join(w[0] for w in parts)
            if len(initials) >= 3:
                out.setdefault(initials, match.group(0))
    return out


class HybridRetriever:
    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.chunks: list[Chunk] = index.chunks
        self.vocabulary = Vocabulary([s.text for s in index.sentences])
        self._chunks_of_sentence: dict[int, list[int]] = {}
        for chunk in self.chunks:
            for sid in chunk.sentence_ids:
                self._chunks_of_sentence.setdefault(sid, []).append(chunk.chunk_id)
        self._terms = [set(content_terms(c.text)) for c in self.chunks]
        self._bm25 = bm25s.BM25()
        self._bm25.index(
            [tokenize_for_bm25(c.text) or ["<empty>"] for c in self.chunks], show_progress=False
        )

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.encode([query])[0]

    def dense_ranking(self, query_vector: np.ndarray, depth: int) -> tuple[list[int], list[float]]:
        depth = min(depth, len(self.chunks))
        _one_search_thread()
        scores, ids = self.index.chunk_index.search(query_vector.reshape(1, -1), depth)
        keep = ids[0] >= 0
        return [int(i) for i in ids[0][keep]], [float(s) for s in scores[0][keep]]

    def sentence_ranking(self, query_vector: np.ndarray, depth: int) -> list[int]:
        """Chunks ranked by their best-matching sentence: a one-sentence answer inside an
        otherwise off-topic chunk still surfaces."""
        n = self.index.sentence_index.ntotal
        _one_search_thread()
        _, ids = self.index.sentence_index.search(query_vector.reshape(1, -1), min(depth * 2, n))
        ranking: list[int] = []
        for sid in ids[0]:
            for chunk_id in self._chunks_of_sentence.get(int(sid), ()):
                if chunk_id not in ranking:
                    ranking.append(chunk_id)
        return ranking[:depth]

    def bm25_ranking(self, query: str, depth: int) -> list[int]:
        terms = [t for t in tokenize_for_bm25(query) if t in self._bm25.vocab_dict]
        if not terms:
            return []
        depth = min(depth, len(self.chunks))
        ids, scores = self._bm25.retrieve([terms], k=depth, show_progress=False, n_threads=1)
        return [int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def retrieve(self, query: str, top_k: int | None = None, *, mode: str = "hybrid") -> Retrieval:
        top_k = top_k or self.settings.top_k
        repaired = self.vocabulary.repair(query)
        vector = self.embed_query(repaired)
        depth = max(self.settings.candidate_k, top_k * 2)
        dense: list[int] = []
        by_sentence: list[int] = []
        if mode in ("hybrid", "dense"):
            dense, _ = self.dense_ranking(vector, depth)
            by_sentence = self.sentence_ranking(vector, depth)
        lexical = self.bm25_ranking(repaired, depth) if mode in ("hybrid", "bm25") else []
        # Dense and lexical evidence get an equal say; the two dense views share theirs.
        fused = reciprocal_rank_fusion(
            [dense, by_sentence, lexical], self.settings.rrf_k, weights=(0.5, 0.5, 1.0)
        )
        passages = self._collapse(fused, top_k)
        return Retrieval(repaired, vector, passages, dense, by_sentence, lexical)

    def _collapse(self, fused: list[tuple[int, float]], top_k: int) -> list[Passage]:
        """Best-first passages, dropping near-duplicates of a passage already kept."""
        kept: list[Chunk] = []
        out: list[Passage] = []
        for chunk_id, score in fused:
            chunk = self.chunks[chunk_id]
            if any(
                near_duplicate(
                    chunk, other, terms=(self._terms[chunk_id], self._terms[other.chunk_id])
                )
                for other in kept
            ):
                continue
            kept.append(chunk)
            out.append(
                Passage(
                    doc_id=chunk.doc_id,
                    start=chunk.start,
                    end=chunk.end,
                    text=chunk.text,
                    score=round(score, 6),
                    chunk_id=chunk.chunk_id,
                )
            )
            if len(out) == top_k:
                break
        return out


def reciprocal_rank_fusion(
    rankings: list[list[int]], k: int = 60, weights: tuple[float, ...] | None = None
) -> list[tuple[int, float]]:
    weights = weights or (1.0,) * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def near_duplicate(
    a: Chunk,
    b: Chunk,
    threshold: float = 0.6,
    terms: tuple[set[str], set[str]] | None = None,
) -> bool:
    """Same span mostly shared, or (across documents) almost the same words."""
    if a.doc_id == b.doc_id:
        shared = min(a.end, b.end) - max(a.start, b.start)
        return shared > threshold * min(a.end - a.start, b.end - b.start)
    ta, tb = terms or (set(content_terms(a.text)), set(content_terms(b.text)))
    return jaccard(ta, tb) >= 0.85
