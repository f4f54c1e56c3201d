"""The API key check, shared by the auth dependency (api/deps.py) and the error handlers
(which show load failures in full only to authenticated callers)."""

from __future__ import annotations

import hmac

from fastapi import Request


def key_matches(sent: str, expected: str) -> bool:
    # Constant-time comparison, on bytes (compare_digest rejects non-ASCII str). Starlette
    # reads header bytes as Latin-1; the key is printable ASCII (checked in the settings).
    return hmac.compare_digest(sent.encode("latin-1", "replace"), expected.encode("ascii"))


def is_authenticated(request: Request) -> bool:
    """Did the caller send the server's key? False when no key is set (nobody is then
    authenticated: internals such as file paths go to the log only) or when the settings
    failed to load (the key is unknown)."""
    settings = getattr(request.app.state.service, "settings", None)
    key = getattr(settings, "api_key", None)
    if not key:
        return False
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and key_matches(token.strip(), key)
