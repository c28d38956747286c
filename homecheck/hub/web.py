"""The employer hub's machine API, mounted on the web plane of `homecheck serve --db`.

The web plane's child process builds its app here (WebOptions.app_factory) and opens its own
Hub on the same database (homecheck/hub/routes.py has the contract):
- GET WELL_KNOWN_KEYS: the public keys receipts are signed with (`homecheck verify --server`);
- GET /api/invite (Authorization: Bearer SECRET): what a candidate's client needs before its
  consent screen: the speed-test server to measure against, the pinned profile, what is stored;
- POST /api/submit (Bearer SECRET, X-Homecheck-Session: the test session id, the body the report
  in canonical JSON): the signed receipt, or the refusal's 4xx and one line.
A background thread delivers the employer's webhook (homecheck/hub/webhooks.py).
Every store call runs in a worker thread, never on the event loop.

The recruiter's dashboard (homecheck/dashboard, under /dashboard) is mounted here too.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from homecheck.dashboard import routes as dashboard_routes
from homecheck.errors import UsageError
from homecheck.hub import ingest, invites, routes, service, webhooks
from homecheck.server.web.app import create_web_app
from homecheck.server.web.options import WebOptions

INVITE_PATH = "/api/invite"
SUBMIT_PATH = "/api/submit"
SESSION_HEADER = "x-homecheck-session"


def create_app(options: WebOptions) -> Starlette:
    hub = service.start(options.hub_db)
    # Each serve process sends the webhook's due deliveries; a claim keeps them from doubling.
    webhooks.Worker(hub.store).start()
    # The submission's bound is the hub's, whatever the web plane's default for other bodies.
    limit = ingest.MAX_SUBMISSION_BYTES + 1
    options = options if options.max_body_bytes >= limit else _with_body_limit(options, limit)

    async def invite(request: Request) -> Response:
        secret = _secret(request)
        if secret is None:
            return _no_invite()
        try:
            view = await run_in_threadpool(ingest.invite_view, hub.store, secret)
        except ingest.Refusal as refusal:
            return routes.refusal_response(refusal)
        return JSONResponse(
            {
                "speed_test": options.speed_test_url,
                "profile_name": view.profile_name,
                "profile_version": view.profile_version,
                "profile_toml": view.profile_toml.decode("utf-8"),
                "stores_client_ip": view.stores_client_ip,
                "uses_left": view.uses_left,
                "expires_at": view.expires_at.isoformat(timespec="seconds"),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def submit(request: Request) -> Response:
        secret = _secret(request)
        if secret is None:
            return _no_invite()
        session_id = request.headers.get(SESSION_HEADER, "")
        if not session_id:
            return JSONResponse(
                {"error": f"name the test session in the {SESSION_HEADER} header"},
                status_code=400,
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > ingest.MAX_SUBMISSION_BYTES:
                return JSONResponse(
                    {"error": f"the report is over {ingest.MAX_SUBMISSION_BYTES} bytes"},
                    status_code=413,
                    headers={"connection": "close"},
                )
        try:
            receipt = await run_in_threadpool(
                lambda: ingest.ingest(
                    hub.store,
                    hub.key,
                    invite_secret=secret,
                    session_id=session_id,
                    body=bytes(body),
                    observations=None,
                    client_address=request.client.host if request.client else None,
                )
            )
        except ingest.Refusal as refusal:
            return routes.refusal_response(refusal)
        return JSONResponse(receipt.to_json())

    app = create_web_app(
        options,
        routes=[
            routes.keys_route(hub),
            Route(INVITE_PATH, invite, methods=["GET"]),
            Route(SUBMIT_PATH, submit, methods=["POST"]),
            *dashboard_routes.ROUTES,
        ],
    )
    dashboard_routes.attach(app, hub)
    app.state.speed_test_url = options.speed_test_url  # the settings page's consent text
    return app


def _secret(request: Request) -> bytes | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return invites.secret_from_link(token)
    except UsageError:
        return None


def _no_invite() -> Response:
    return JSONResponse(
        {"error": "no such invite (send the invite's secret as a Bearer token)"},
        status_code=404,
    )


def _with_body_limit(options: WebOptions, limit: int) -> WebOptions:
    from dataclasses import replace

    return replace(options, max_body_bytes=limit)
