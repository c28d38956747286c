"""Small pieces the server's HTTP handlers share: a plain error reply, a bounded number, a small
JSON body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

MAX_JSON_BYTES = 1024


def error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def number(value: object, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        found = float(value)
    except ValueError:
        return None
    if found != found:  # NaN
        return None
    return min(max(found, low), high)


async def small_json(request: Request) -> dict[str, Any] | None:
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_JSON_BYTES:
                return None
    except ClientDisconnect:
        return None
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
