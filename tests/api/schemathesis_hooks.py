"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks): one extra check.

schemathesis.toml lets three operations answer schema-valid data with 422 for rules JSON Schema
cannot state; this check makes sure such a 422 is exactly one of those rules.
"""

from __future__ import annotations

import schemathesis

# code of the error body -> the operations where it may answer schema-valid data
DATA_RULES = {
    "invalid_span": {"/documents/{doc_id}"},
    "invalid_article": {"/documents", "/documents/{doc_id}"},
    "invalid_chat": {"/v1/chat/completions", "/v1/responses"},
    "invalid_question": {"/v1/chat/completions", "/v1/responses"},
}


@schemathesis.check
def named_rule_violation(ctx: object, response: object, case: object) -> bool | None:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if getattr(response, "status_code", None) != 422:
        return None
    path = case.operation.path  # type: ignore[attr-defined]
    code = response.json().get("error", {}).get("code")  # type: ignore[attr-defined]
    allowed = {c for c, paths in DATA_RULES.items() if path in paths}
    if allowed and code not in allowed:
        raise AssertionError(
            f"schema-valid request to {path} refused with {code!r}; "
            f"only {sorted(allowed)} are rules the schema cannot state"
        )
    return None
