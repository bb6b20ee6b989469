"""OpenAI-style errors: ``{"error": {"message", "type", "code", "param"}}`` with a status."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_implemented_error",
    503: "server_error",
}


@dataclass
class ApiError(Exception):
    """A request that cannot be served, said the way OpenAI's API says it."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.message}"

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.code, self.param)


def error_response(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> JSONResponse:
    """The JSON error body OpenAI clients parse, with ``status``."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "code": code, "param": param}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
