"""The OpenAPI schema, made to say what the server does (Schemathesis checks it:
tests/api/test_schemathesis.py).

FastAPI's generated schema is adjusted once, for this server's settings: the bearer scheme
only when RAG_API_KEY is set (optional on /health, which answers either way), the errors the
edges add (400 unparsable JSON, 408 slow body, 413 large body, 401 with a key), and the
question length limit of RAG_MAX_QUESTION_CHARS.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rag.settings import Settings

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
BODY_ERRORS = {
    "400": "The body is not valid JSON (code invalid_json)",
    "408": "The body did not arrive within RAG_BODY_TIMEOUT seconds (code request_timeout)",
    "413": "The body is over 64 KiB (code request_too_large)",
}
# Fields that go through rag.pipeline.validate_question: not blank, at most the limit.
QUESTION_FIELDS = (("AskRequest", "question"), ("SearchRequest", "query"))
# "Not blank" is Python's str.strip(), whose whitespace differs from a regex \s (JavaScript's
# lacks U+001C-U+001F and U+0085, has U+FEFF): the pattern spells out Python's set, so
# every client's regex engine agrees with the server (tests check it against str.isspace).
PYTHON_WHITESPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NOT_BLANK = f"[^{PYTHON_WHITESPACE}]"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def build_openapi(app: FastAPI, settings: Settings | None) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    keyed = settings is not None and bool(settings.api_key)
    limit = settings.max_question_chars if settings is not None else Settings().max_question_chars
    components = schema.setdefault("components", {})
    if not keyed:
        components.pop("securitySchemes", None)
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if not keyed:
                operation.pop("security", None)
                responses.pop("401", None)
            elif path == "/health":
                operation["security"] = [{}, {"HTTPBearer": []}]  # optional: more details
            for status, response in responses.items():
                # Errors are JSON whatever the route's own media type (text/plain /metrics).
                if status[0] in "45" and "content" in response:
                    schema_of = response["content"].get("application/json", {}).get("schema")
                    response["content"] = {"application/json": {"schema": schema_of or ERROR_REF}}
            if "requestBody" in operation:
                for status, description in BODY_ERRORS.items():
                    responses.setdefault(status, _error(description))
    for model, field in QUESTION_FIELDS:
        prop = components.get("schemas", {}).get(model, {}).get("properties", {}).get(field)
        if prop is not None:
            # `pattern` is unanchored: "holds a character that is not whitespace".
            prop.update(minLength=1, maxLength=limit, pattern=NOT_BLANK)
    return schema


def install_openapi(app: FastAPI, settings: Settings | None) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
