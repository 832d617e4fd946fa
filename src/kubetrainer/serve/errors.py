"""Errors in the OpenAI API's shape, so existing clients raise their usual exceptions.

Every failure the server answers is `{"error": {"message", "type", "param", "code"}}`
with a 4xx/5xx status; the `openai` client maps 400/401/404/413/429 to its own
exception classes from that.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kubetrainer.generation.engine import UnknownAdapter, Unsupported

log = logging.getLogger(__name__)

TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_error",
    504: "timeout_error",
}


class APIError(Exception):
    """An answer in the OpenAI error shape; `param` names the offending field."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type or TYPE_BY_STATUS.get(status, "server_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}


def unsupported(param: str, why: str) -> APIError:
    """A parameter the OpenAI API defines but this server does not implement."""
    return APIError(400, f"'{param}' is not supported by this server: {why}", param=param, code="unsupported_parameter")


def unknown_model(error: UnknownAdapter) -> APIError:
    """A request whose adapter went away after it was admitted: the 404 it would have got a moment later."""
    return APIError(404, str(error), param="model", code="model_not_found")


def error_response(error: APIError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _validation_error(errors: list[dict[str, Any]]) -> APIError:
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return APIError(400, f"the body is not valid JSON: {first.get('ctx', {}).get('error', 'parse error')}",
                        code="invalid_json")
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    message = first.get("msg", "invalid request")
    if param:
        message = f"{param}: {message}"
    return APIError(400, message, param=param, code="invalid_value")


def install_error_handlers(app: FastAPI, on_error: Any = None) -> None:
    """Route every exception through the OpenAI shape; `on_error(type)` counts them."""

    def count(kind: str) -> None:
        if on_error is not None:
            on_error(kind)

    @app.exception_handler(APIError)
    async def _api_error(_: Request, error: APIError) -> JSONResponse:
        count(error.code or error.error_type)
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        count("invalid_value")
        return error_response(_validation_error(list(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        count(f"http_{error.status_code}")
        api_error = APIError(error.status_code, str(error.detail))
        return error_response(api_error, headers=getattr(error, "headers", None))

    @app.exception_handler(UnknownAdapter)
    async def _unknown_adapter(_: Request, error: UnknownAdapter) -> JSONResponse:
        count("model_not_found")
        return error_response(unknown_model(error))

    @app.exception_handler(Unsupported)
    async def _unsupported(_: Request, error: Unsupported) -> JSONResponse:
        count("unsupported")
        return error_response(APIError(400, f"not supported by this engine: {error}", code="unsupported"))

    @app.exception_handler(Exception)
    async def _bug(_: Request, error: Exception) -> JSONResponse:
        log.exception("internal error")
        count("internal_error")
        return error_response(APIError(500, f"internal error: {type(error).__name__}", code="internal_error"))
