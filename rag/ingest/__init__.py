"""Ingest: seed articles loaded byte-exact with their metadata and junk spans, split into
sentences with exact offsets and chunked into overlapping sentence windows."""

from rag.ingest.chunk import chunk_corpus
from rag.ingest.corpus import describe_date, load_corpus
from rag.ingest.sentences import split_sentences

__all__ = ["chunk_corpus", "describe_date", "load_corpus", "split_sentences"]
