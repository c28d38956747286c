"""The web plane's ASGI app: a plain Starlette app, served by Hypercorn in a process of its own.

For now it says what this server is (`GET /`) and that it is alive (`GET /healthz`). The machine
API of issue 13 (invites, submissions, receipts) and the pages of issue 14 join as routers of their
own, passed in `routes` (healthchecks' split: `hc/api`, `hc/front`). Every route gets the same
middleware (middleware.py): bounded bodies, trusted proxy headers, one-line errors, and JSON
answers for 404/405/413.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

import homecheck
from homecheck.server.web.middleware import BodyLimit, Guard, ProxyHeaders
from homecheck.server.web.options import TrustedProxies, WebOptions


def create_web_app(options: WebOptions, routes: Sequence[BaseRoute] = ()) -> Starlette:
    middleware = [
        Middleware(Guard, stall_timeout_s=options.idle_timeout_s, access_log=options.access_log)
    ]
    if options.forwarded_allow_ips is not None:
        trusted = TrustedProxies.parse(options.forwarded_allow_ips)
        middleware.append(Middleware(ProxyHeaders, trusted=trusted))
    middleware.append(
        Middleware(
            BodyLimit,
            max_bytes=options.max_body_bytes,
            stall_timeout_s=options.idle_timeout_s,
            max_head_bytes=options.max_head_bytes,
        )
    )

    async def front(request: Request) -> Response:
        return JSONResponse(
            {
                "service": "homecheck serve",
                "version": homecheck.__version__,
                # As this request reached us: https behind a TLS proxy that says so.
                "url": str(request.base_url),
                "speed_test": options.speed_test_url,
                "run": (
                    f"homecheck run --server {options.speed_test_url}"
                    if options.speed_test_url
                    else None
                ),
            }
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/", front, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *routes,
        ],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code in {408, 413}:
        headers["connection"] = "close"  # the rest of the body is not read
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)
