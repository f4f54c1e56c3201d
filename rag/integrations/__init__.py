"""Adapters to other frameworks (optional extras)."""
