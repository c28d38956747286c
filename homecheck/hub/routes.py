"""The hub's HTTP side for the web plane of `homecheck serve` (Starlette; `serve` extra only).

The route contract (what the web plane calls; every store call is synchronous, so a handler runs
it with `starlette.concurrency.run_in_threadpool`, never on the event loop):

- At start: `hub = homecheck.hub.service.start(args.db)` (migrates, loads or makes the signing
  key, publishes its public key); `hub.close()` at shutdown.
- GET WELL_KNOWN_KEYS: mount `keys_route(hub)` (ready here); `homecheck verify --server` reads it.
- The invite secret travels in a header (`Authorization: Bearer <base64url secret>`), never in a
  URL path that access logs keep; `homecheck.hub.invites.secret_from_link` parses a link or the
  bare secret (UsageError -> answer 404).
- The candidate's client fetches its invite: `ingest.invite_view(hub.store, secret)` -> the pinned
  profile's TOML, its name@version, whether the client address is stored (for the consent text).
- A test under an invite begins: `ingest.open_session(hub.store, secret)` -> the session id to
  bind to the measurement plane's test (it names that test when the report is submitted). When
  the test ends, the measurement plane stores what it counted:
  `ingest.record_observations(hub.store, session_id, ServerObservations(...))`, so the report may
  be submitted to any serve process sharing the database.
- The report is submitted: read at most `ingest.MAX_SUBMISSION_BYTES + 1` bytes (answer 413
  beyond, without reading on), then `ingest.ingest(hub.store, hub.key, invite_secret=...,
  session_id=..., body=..., observations=None (the recorded ones),
  client_address=request.client.host)` -> `Receipt`; answer 200 with
  `receipt.to_json()`. The receipt is returned only after the transaction committed, so an
  acknowledged submission survives a SIGKILL of the process.
- Any `ingest.Refusal`: answer `refusal_response(refusal)` (its 4xx status and one line).
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
