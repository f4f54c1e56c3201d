"""One error shape for every failure: `{"error": {"message", "type", "code", "param"}}`.

Domain errors (`RagError` subclasses, raised in `rag/` or here) get their HTTP status from
`STATUS` below, by class; FastAPI's validation errors and Starlette's HTTP errors are
rewritten into the same shape, so a client never sees a traceback or FastAPI's default
`{"detail": ...}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from api.auth import is_authenticated
from api.schemas import ErrorBody, ErrorResponse
from rag.errors import (
    ArticleTooLargeError,
    DatasetError,
    DocumentExistsError,
    IndexCorruptedError,
    IndexMismatchError,
    InvalidArticleError,
    InvalidQuestionError,
    InvalidSpanError,
    InvalidTextError,
    LastDocumentError,
    MissingDependencyError,
    ModelLoadError,
    RagError,
    SeedReadError,
    SeedsNotFoundError,
    StoreUnavailableError,
    UnknownDocumentError,
    WritesDisabledError,
    lookup,
)

log = logging.getLogger("uvicorn.error")


class ApiError(RagError):
    """Errors that only exist at the HTTP edge. `code` overrides the error body's code
    (derived from the class name otherwise)."""

    code: str | None = None


class AuthenticationError(ApiError):
    """Missing or wrong API key."""


class ModelNotFoundError(ApiError):
    """A model name other than the one this server serves."""

    code = "model_not_found"


class InvalidChatError(ApiError):
    """A chat request the service cannot answer (no user message, unsupported role...)."""


class ServiceUnavailableError(ApiError):
    """The model or index failed to load at start-up. The message is public: a reason code
    only; `detail` (which may name files) is shown to authenticated callers."""

    code = "not_ready"

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(f"The service is not ready ({reason}); the server log says why.")
        self.reason = reason
        self.detail = detail

    def detailed(self) -> str:
        return f"The service is not ready ({self.reason}): {self.detail or 'no details'}"


# HTTP status of each error class (a subclass inherits its base's); anything else is a 500.
STATUS: dict[type[BaseException], int] = {
    InvalidTextError: 422,
    InvalidQuestionError: 422,
    InvalidSpanError: 422,
    InvalidChatError: 422,
    DatasetError: 422,
    InvalidArticleError: 422,
    ArticleTooLargeError: 413,
    DocumentExistsError: 409,
    LastDocumentError: 409,
    WritesDisabledError: 403,
    UnknownDocumentError: 404,
    ModelNotFoundError: 404,
    AuthenticationError: 401,
    SeedsNotFoundError: 503,
    SeedReadError: 503,
    IndexCorruptedError: 503,
    StoreUnavailableError: 503,
    IndexMismatchError: 503,
    ModelLoadError: 503,
    ServiceUnavailableError: 503,
    MissingDependencyError: 500,
}


def status_of(exc: RagError) -> int:
    return lookup(STATUS, exc, 500)


_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    503: "service_unavailable_error",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(message=message, type=error_type(status), code=code, param=param)
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def error_code(exc: RagError) -> str:
    """InvalidQuestionError -> "invalid_question"."""
    explicit = getattr(exc, "code", None)
    if explicit:
        return str(explicit)
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _loc(loc: Sequence[int | str]) -> str:
    # ("body", "messages", 0, "role") -> "messages[0].role"; the "body"/"query" prefix is noise.
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe_validation_errors(errors: Sequence[Any]) -> tuple[int, str, str, str | None]:
    """(status, code, message, param) for FastAPI's list of validation errors."""
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "invalid JSON")
        return 400, "invalid_json", f"The request body is not valid JSON: {detail}.", None
    if tuple(first.get("loc", ())) == ("body",):
        if first.get("type") == "missing":
            message = "The request body is missing: send a JSON object."
        else:
            message = (
                "The request body must be a JSON object, sent with "
                "'Content-Type: application/json'."
            )
        return 422, "invalid_body", message, None
    messages = []
    for err in errors[:5]:
        where = _loc(err.get("loc", ()))
        text = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            text = "unknown field"
        messages.append(f"{where}: {text}" if where else text)
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    param = _loc(first.get("loc", ())) or None
    return 422, "validation_error", "Invalid request: " + "; ".join(messages) + more + ".", param


async def _rag_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)
    status = status_of(exc)
    if status >= 500 and status != 503:
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    message = str(exc)
    if isinstance(exc, ServiceUnavailableError) and is_authenticated(request):
        message = exc.detailed()
    return error_response(status, message, code=error_code(exc), headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, code, message, param = describe_validation_errors(exc.errors())
    return error_response(status, message, code=code, param=param)


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def _unparsable_body(exc: StarletteHTTPException) -> str | None:
    """FastAPI answers a body that `json.loads` cannot even start on (bytes that are not
    UTF-8, nesting deeper than Python's recursion limit) with a bare 400 "There was an error
    parsing the body"; the cause says which."""
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (
            "The request body is not valid JSON: it is not UTF-8 text "
            f"(byte 0x{cause.object[cause.start]:02X} at offset {cause.start})."
        )
    if isinstance(cause, RecursionError):
        return "The request body is not valid JSON that can be read: it is nested too deeply."
    if isinstance(cause, ValueError):  # json's other complaints
        return "The request body is not valid JSON."
    return None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail)
    code = _HTTP_CODES.get(exc.status_code)
    unparsable = _unparsable_body(exc)
    if unparsable is not None:
        message, code = unparsable, "invalid_json"
    elif exc.status_code == 404 and message == "Not Found":
        message = f"No such endpoint: {request.method} {request.url.path}. See /docs."
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
        # Starlette names only the first route that matched the path; a path served by several
        # routes (GET and POST /documents) must list them all.
        headers["Allow"] = ", ".join(_methods_for(request))
    return error_response(exc.status_code, message, code=code, headers=headers or None)


def _methods_for(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, BaseRoute):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("Unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error.", code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagError, _rag_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
