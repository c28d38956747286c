"""What every dashboard handler uses. A page module's handler looks like:

    @signed_in()                       # or signed_in(Role.ADMIN) for admin pages
    async def page(request: Request) -> Response:
        user = request.state.user      # sessions.SignedIn: email, role, csrf_token
        rows = await run_in_threadpool(query, hub(request).store, ...)
        return render(request, "page.html.j2", rows=rows)

    @signed_in()
    async def change(request: Request) -> Response:
        fields = await form(request)   # 403 page unless its CSRF token is this session's
        ...                            # in a worker thread: with store.sessions.begin() as s:
        audit(s, request, Audit.EXPORT, "...")   # in the same transaction as the change
        await flash(request, "Done.")  # shown once on the next page
        return see_other("/dashboard/...")

- `signed_in(role)`: no (or an expired) session -> 303 to /dashboard/sign-in?next=PATH; a
  recruiter on an admin page -> the 403 page. Sets `request.state.user`.
- `form(request)` -> `Form` (url-encoded or multipart with files, at most MAX_FORM_BYTES), after
  checking the CSRF token field `csrf_token` (synchronizer token of the session, or before sign-in
  the double-submit cookie); a missing or wrong token raises `Rejected(403)`.
- `Rejected(status, message)`: raise it anywhere in a handler under `signed_in`/`public`; the
  visitor gets the error page with that status and message (404 for an unknown candidate ...).
- `render(request, template, status_code=200, headers=None, **context)`: the template through
  `base.html.j2` (nav for the user's role, sign-out form, flash message), with the security
  headers (`security_headers`): CSP `default-src 'self'` (no inline script or style attribute:
  server-rendered SVG draws with presentation attributes such as fill= and stroke=), frame
  refusal, no referrer across origins, and no-store on every signed-in page. In templates:
  `{{ csrf_field() }}` in every POST form; `user`, `nav`, `flash`; filters `when` (a UTC
  time), `day_time`, `verdict_word`/`verdict_icon` and `area_title`.
- `hub(request)` -> the Hub (store, key); run store calls with `run_in_threadpool`.
- `audit(session, request, action, detail)`: one audit-log entry (who, from where, what).

Jinja2 autoescapes every `{{ }}`; control and bidirectional characters in values are shown as
their escapes (reports.vocabulary.clean), never written into the page raw (a candidate's name is
their own text). Verdict words and icons are the reports' (reports.vocabulary).
"""

from __future__ import annotations

import enum
import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from homecheck.dashboard import sessions
from homecheck.dashboard.sessions import SignedIn
from homecheck.hub.accounts import Role
from homecheck.hub.models import AuditEntry
from homecheck.hub.service import Hub
from homecheck.model import Verdict
from reports import vocabulary

PREFIX = "/dashboard"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
HOME_PATH = f"{PREFIX}/candidates"
COOKIE = "homecheck_session"
# Before sign-in there is no session: the sign-in form's token is a double-submit cookie.
PRE_SESSION_COOKIE = "homecheck_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 2 * 1024 * 1024
MAX_FIELDS = 10_000

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

Handler = Callable[[Request], Awaitable[Response]]


class Audit(enum.Enum):
    """What the audit log records (AuditEntry.action)."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    EXPORT = "export"
    DELETE_CANDIDATE = "delete_candidate"


class Rejected(Exception):
    """Answer this request with the error page: `status` and one line for the visitor."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Form:
    """A submitted form: text fields in order (a name may repeat) and uploaded files."""

    fields: tuple[tuple[str, str], ...]
    files: dict[str, Upload] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        found = [value for key, value in self.fields if key == name]
        return found[-1] if found else default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


def hub(request: Request) -> Hub:
    return cast(Hub, request.app.state.hub)


def nav_bar(request: Request) -> tuple[tuple[str, str, Role], ...]:
    """routes.NAV, which routes.attach put on the app (routes imports the pages, which import
    this module: reading it from the app keeps the imports one way)."""
    return cast(tuple[tuple[str, str, Role], ...], request.app.state.dashboard_nav)


def user(request: Request) -> SignedIn:
    return cast(SignedIn, request.state.user)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def signed_in(role: Role = Role.RECRUITER) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def page(request: Request) -> Response:
            token = request.cookies.get(COOKIE, "")
            found = None
            if token:
                found = await run_in_threadpool(_resume, hub(request), token)
            if found is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return see_other(f"{SIGN_IN_PATH}?next={quote(target, safe='')}")
            request.state.user = found
            if not found.may(role):
                return error_page(request, 403, "This page is for administrators.")
            try:
                return await handler(request)
            except Rejected as rejected:
                return error_page(request, rejected.status, rejected.message)

        return page

    return decorate


def public(handler: Handler) -> Handler:
    """For the pages seen before sign-in (the sign-in form): `Rejected` becomes the error page."""

    @functools.wraps(handler)
    async def page(request: Request) -> Response:
        request.state.user = None
        try:
            return await handler(request)
        except Rejected as rejected:
            return error_page(request, rejected.status, rejected.message)

    return page


def _resume(hub: Hub, token: str) -> SignedIn | None:
    with hub.store.sessions() as session:
        return sessions.resume(session, token)


def csrf_token(request: Request) -> str:
    signed = getattr(request.state, "user", None)
    if isinstance(signed, SignedIn):
        return signed.csrf_token
    # Before sign-in: the value of the double-submit cookie, made by the page that shows the form.
    token = getattr(request.state, "pre_session_csrf", None) or request.cookies.get(
        PRE_SESSION_COOKIE, ""
    )
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.pre_session_csrf = token
    return str(token)


async def form(request: Request) -> Form:
    """The request's form, after its CSRF check (Rejected(403) if it fails)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Rejected(413, f"The form is over {MAX_FORM_BYTES // (1024 * 1024)} MB.")
    parsed = _parse_form(request.headers.get("content-type", ""), bytes(body))
    signed = getattr(request.state, "user", None)
    expected = (
        signed.csrf_token
        if isinstance(signed, SignedIn)
        else request.cookies.get(PRE_SESSION_COOKIE, "")
    )
    given = parsed.get(CSRF_FIELD)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Rejected(
            403, "This form has expired or did not come from this site. Reload the page."
        )
    if any("\x00" in value for _, value in parsed.fields):  # no field needs one; PostgreSQL
        raise Rejected(400, "The form holds a NUL character.")  # refuses NUL in text
    return parsed


def _parse_form(content_type: str, body: bytes) -> Form:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" or (not kind and not body):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "The form is not UTF-8 text.") from None
        try:
            return Form(tuple(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)))
        except ValueError:
            raise Rejected(400, f"The form has more than {MAX_FIELDS} fields.") from None
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise Rejected(415, "Send the form as a browser does (url-encoded or multipart).")


def _parse_multipart(content_type: str, body: bytes) -> Form:
    # The standard library's MIME parser (RFC 7578 is MIME multipart): no extra dependency.
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise Rejected(400, "The form's multipart body is malformed.")
    fields: list[tuple[str, str]] = []
    files: dict[str, Upload] = {}
    for count, part in enumerate(message.iter_parts()):
        if count >= MAX_FIELDS:
            raise Rejected(400, f"The form has more than {MAX_FIELDS} fields.")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = Upload(filename, part.get_content_type(), data)
            continue
        try:
            fields.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            raise Rejected(400, "The form is not UTF-8 text.") from None
    return Form(tuple(fields), files)


async def flash(request: Request, message: str) -> None:
    """Show `message` once, on the next page this session opens."""
    signed = user(request)

    def save() -> None:
        with hub(request).store.sessions.begin() as session:
            sessions.set_flash(session, signed.session_id, message)

    await run_in_threadpool(save)


def audit(
    session: Session, request: Request, action: Audit, detail: str, *, email: str | None = None
) -> None:
    """One audit-log entry in `session`'s transaction: the signed-in user (or `email`, for a
    sign-in), the client's address, the action and a line of detail."""
    signed = getattr(request.state, "user", None)
    if email is None and isinstance(signed, SignedIn):
        email = signed.email
    session.add(
        AuditEntry(
            user_email=email,
            action=action.value,
            detail=detail[:2000],
            client_address=client_address(request),
        )
    )


def see_other(path: str) -> Response:
    return RedirectResponse(path, status_code=303, headers=security_headers())


def security_headers(*, private: bool = True) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if private:
        headers["Cache-Control"] = "no-store"
    return headers


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    signed = getattr(request.state, "user", None)
    signed = signed if isinstance(signed, SignedIn) else None
    token = csrf_token(request)
    page = (
        _environment()
        .get_template(template)
        .render(
            user=signed,
            nav=[
                (label, path)
                for label, path, role in nav_bar(request)
                if signed is not None and signed.may(role)
            ],
            current_path=request.url.path,
            flash=signed.flash if signed is not None else None,
            csrf_field=lambda: Markup('<input type="hidden" name="{}" value="{}">').format(
                CSRF_FIELD, token
            ),
            **context,
        )
    )
    response = HTMLResponse(page, status_code, {**security_headers(), **(headers or {})})
    if signed is None and not request.cookies.get(PRE_SESSION_COOKIE):
        set_cookie(request, response, PRE_SESSION_COOKIE, token, max_age=None, path=SIGN_IN_PATH)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html.j2", status_code=status, status=status, message=message)


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None,
    path: str = PREFIX,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",  # honours --forwarded-allow-ips (X-Forwarded-Proto)
    )


def _finalize(value: Any) -> Any:
    # Untrusted text is escaped by Jinja2; steering characters (controls, bidi overrides) are
    # shown as their escapes by the reports' one cleaner, as in every report.
    if isinstance(value, str) and not isinstance(value, Markup):
        return vocabulary.clean(value)
    return value


def verdict_word(value: str | None) -> str:
    return "NO RUN YET" if value is None else vocabulary.VERDICT_WORDS[Verdict(value)]


def verdict_icon(value: str | None) -> Markup:
    """The icon of a verdict, hidden from screen readers (the word next to it is read)."""
    if value is None:
        return Markup('<span class="icon" aria-hidden="true">\u00b7</span>')
    verdict = Verdict(value)
    return Markup('<span class="icon icon-{}" aria-hidden="true">{}</span>').format(
        verdict.value, vocabulary.VERDICT_ICONS[verdict]
    )


def when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day_time(value: datetime | None) -> str:
    """A UTC time where the column's header says UTC."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=when,
        day_time=day_time,
        verdict_word=verdict_word,
        verdict_icon=verdict_icon,
        area_title=vocabulary.area_title,
    )
    environment.globals["escape"] = escape
    return environment
