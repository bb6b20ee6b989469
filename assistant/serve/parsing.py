"""Checking request fields: each wrong one is a 400 that names the field."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import ApiError

__all__ = ["json_body", "opt_int", "opt_number", "opt_str", "require_str"]


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object."""
    raw = await request.body()
    if not raw:
        raise ApiError(400, "the request body is empty; send a JSON object", "invalid_json")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}", "invalid_json") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")
    return data


def _type_error(name: str, wanted: str, value: Any) -> ApiError:
    return ApiError(
        400, f"'{name}' must be {wanted}, not {type(value).__name__}", "invalid_type", name
    )


def require_str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise ApiError(400, f"'{name}' is required", "missing_required_parameter", name)
    if not isinstance(value, str):
        raise _type_error(name, "a string", value)
    return value


def opt_str(data: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _type_error(name, "a string", value)
    return value


def opt_number(data: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(name, "a number", value)
    if not low <= value <= high:
        raise ApiError(
            400,
            f"'{name}' must be between {low:g} and {high:g}, not {value}",
            "invalid_value",
            name,
        )
    return float(value)


def opt_int(
    data: dict[str, Any], name: str, default: int | None, low: int, high: int
) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an integer", value)
    if not low <= value <= high:
        raise ApiError(
            400, f"'{name}' must be between {low} and {high}, not {value}", "invalid_value", name
        )
    return value
