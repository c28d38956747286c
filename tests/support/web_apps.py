"""Web plane apps for tests: the real `create_web_app` with a few routes mounted beside its own,
through the same `routes` parameter issues 13 and 14 use. Started in the child by name
(`WebOptions(app_factory="tests.support.web_apps:create_test_app")`)."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from homecheck.server.web.app import create_web_app
from homecheck.server.web.options import WebOptions

SLOW_S = 1.5


async def slow(request: Request) -> Response:
    """An in-flight request for stop(): answers after SLOW_S seconds."""
    await asyncio.sleep(SLOW_S)
    return PlainTextResponse("done\n")


async def body_size(request: Request) -> Response:
    """Reads the whole body (so its bound and stall timeout apply) and says how long it was."""
    return PlainTextResponse(f"{len(await request.body())}\n")


async def broken(request: Request) -> Response:
    raise RuntimeError("a bug\nwith a second line")


def create_test_app(options: WebOptions) -> Starlette:
    return create_web_app(
        options,
        routes=[
            Route("/test/slow", slow),
            Route("/test/body", body_size, methods=["POST"]),
            Route("/test/broken", broken),
        ],
    )
