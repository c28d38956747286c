"""The hub's HTTP handlers for the web plane to mount (Starlette; `serve` extra only).

Mounted now: `keys_route(hub)` at WELL_KNOWN_KEYS, which `homecheck verify --server URL` reads.
The submission and invite routes are wired with the web plane (issue 12); they call
homecheck.hub.ingest's `invite_view`, `open_session` and `ingest` and answer a `Refusal` with
`refusal_response` (its status and one line), never 5xx.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from homecheck.hub.ingest import Refusal
from homecheck.hub.receipts import WELL_KNOWN_KEYS
from homecheck.hub.service import Hub, published_keys


def keys_route(hub: Hub) -> Route:
    async def keys(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        # The store is synchronous: a query runs in a worker thread, never on the event loop.
        body = await run_in_threadpool(published_keys, hub.store)
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    return Route(WELL_KNOWN_KEYS, keys, methods=["GET"])


def refusal_response(refusal: Refusal) -> Response:
    return JSONResponse(
        {"error": str(refusal), "reason": refusal.reason.value}, status_code=refusal.status
    )
