"""FastAPI service over the `rag` library."""
