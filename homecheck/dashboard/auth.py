"""Sign-in and sign-out pages. The checks (Argon2, lock-out) are sessions.py's; this module is
their HTTP side: the form, the cookie, the redirect, the audit entries."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck.dashboard import sessions
from homecheck.dashboard.web import (
    COOKIE,
    HOME_PATH,
    PREFIX,
    SIGN_IN_PATH,
    Audit,
    audit,
    client_address,
    form,
    hub,
    public,
    render,
    see_other,
    set_cookie,
    signed_in,
    user,
)
from homecheck.hub.service import Hub

SIGN_OUT_PATH = f"{PREFIX}/sign-out"


def safe_next(target: str) -> str:
    """Where to go after signing in: a dashboard path of this site, never another site's."""
    target = unquote(target)
    if (
        target.startswith(PREFIX + "/")
        and not target.startswith(SIGN_IN_PATH)
        and "\\" not in target
        and "//" not in target
        and target.isprintable()
    ):
        return target
    return HOME_PATH


@public
async def sign_in_page(request: Request) -> Response:
    return render(
        request,
        "sign_in.html.j2",
        next=safe_next(request.query_params.get("next", "")),
        email="",
        error=None,
        signed_out=request.query_params.get("signed_out") == "1",
    )


@public
async def sign_in(request: Request) -> Response:
    fields = await form(request)
    email = fields.get("email").strip()[:320]
    password = fields.get("password")
    target = safe_next(fields.get("next"))
    address = client_address(request)
    token = await run_in_threadpool(_check, hub(request), request, email, password, address)
    if isinstance(token, str):
        response = see_other(target)
        set_cookie(
            request,
            response,
            COOKIE,
            token,
            max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        )
        return response
    locked = token
    message = (
        "Too many failed sign-ins from your address. Try again in "
        f"{int(sessions.FAILURE_WINDOW.total_seconds() // 60)} minutes."
        if locked
        else "Wrong e-mail address or password."
    )
    return render(
        request,
        "sign_in.html.j2",
        status_code=429 if locked else 401,
        next=target,
        email=email,
        error=message,
        signed_out=False,
    )


def _check(hub: Hub, request: Request, email: str, password: str, address: str) -> str | bool:
    """The session token on success; else whether the address is locked out of the account."""
    with hub.store.sessions.begin() as session:
        outcome = sessions.check_sign_in(session, email, password, address)
        if isinstance(outcome, sessions.Accepted):
            token = sessions.start(session, outcome.user)
            sessions.purge_expired(session)
            audit(session, request, Audit.SIGN_IN, "signed in", email=outcome.user.email)
            return token
        assert isinstance(outcome, sessions.Refused)
        if outcome.counted:  # attempts refused while locked are not counted, nor logged
            detail = "wrong e-mail address or password"
            if outcome.locked:
                detail += "; this address is now locked out of this account for a while"
            audit(session, request, Audit.SIGN_IN_FAILED, detail, email=email)
        return outcome.locked


@signed_in()
async def sign_out(request: Request) -> Response:
    await form(request)
    signed = user(request)

    def end() -> None:
        with hub(request).store.sessions.begin() as session:
            sessions.end(session, signed.session_id)
            audit(session, request, Audit.SIGN_OUT, "signed out")

    await run_in_threadpool(end)
    response = see_other(f"{SIGN_IN_PATH}?signed_out=1")
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


async def home(request: Request) -> Response:
    return see_other(HOME_PATH)


ROUTES: tuple[BaseRoute, ...] = (
    Route(PREFIX, home, methods=["GET"]),
    Route(PREFIX + "/", home, methods=["GET"]),
    Route(SIGN_IN_PATH, sign_in_page, methods=["GET"]),
    Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
    Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
)
