"""The invites page (recruiters and admins): create one invite or many from a CSV file, revoke,
extend.

- GET /dashboard/invites: the forms and the latest invites (PAGE_SIZE a page) with their state.
- POST /dashboard/invites: one invite; the answer shows its link once (only its hash is stored),
  in a read-only field that a copy button (static/copy.js, the page's only script) copies; without
  script the field is selected by a click and copied with the keyboard.
- POST /dashboard/invites/bulk: a CSV of names and e-mails (homecheck.hub.invites says the
  format); every bad line is named and nothing is created while one is bad; the answer lists
  each link once, and as CSV text to paste into a mail merge.
- POST /dashboard/invites/{id}/revoke and /extend: then back to the list with a message.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck import profiles
from homecheck.dashboard.export import neutralise
from homecheck.dashboard.web import (
    PREFIX,
    Form,
    Rejected,
    flash,
    form,
    hub,
    render,
    see_other,
    signed_in,
)
from homecheck.errors import UsageError
from homecheck.hub import invites as hub_invites
from homecheck.hub.models import Invite, StoredProfile, now
from homecheck.hub.profile_store import store_profile
from homecheck.hub.store import Store, write

PATH = f"{PREFIX}/invites"
BULK_PATH = f"{PATH}/bulk"
PAGE_SIZE = 50
EXPIRY_CHOICES = ("1d", "3d", "7d", "14d", "30d")
EXTEND_CHOICES = ("1d", "7d", "14d", "30d")
BUILTIN_PREFIX = "builtin:"
MAX_ROW_ID = 2**31  # row ids are 32-bit integers on PostgreSQL


@dataclass(frozen=True)
class Row:
    invite_id: str
    candidate_name: str
    candidate_email: str | None
    profile: str
    state: str
    uses_left: int
    uses_total: int
    expires_at: datetime
    created_at: datetime
    revocable: bool


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Created:
    name: str
    email: str | None
    link: str


def links_csv(created: list[Created]) -> str:
    """The new links as CSV text (name, e-mail, link), cells neutralised as every export's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "email", "link"])
    for item in created:
        writer.writerow([neutralise(item.name), neutralise(item.email or ""), item.link])
    return out.getvalue()


def profile_choices(session: Session) -> list[tuple[str, str]]:
    """(form value, label): each stored profile's latest version, then the built-ins not yet
    stored (stored when an invite first uses them)."""
    latest = (
        select(StoredProfile.name, func.max(StoredProfile.version).label("version"))
        .group_by(StoredProfile.name)
        .subquery()
    )
    stored = session.execute(
        select(StoredProfile.id, StoredProfile.name, StoredProfile.version)
        .join(
            latest,
            (latest.c.name == StoredProfile.name) & (latest.c.version == StoredProfile.version),
        )
        .order_by(StoredProfile.name)
    ).all()
    names = {name for _, name, _ in stored}
    choices = [(f"id:{pid}", f"{name} (version {version})") for pid, name, version in stored]
    choices += [
        (f"{BUILTIN_PREFIX}{name}", f"{name} (built-in)")
        for name in profiles.BUILTIN
        if name not in names
    ]
    return choices


def resolve_profile(session: Session, value: str) -> StoredProfile:
    if value.startswith(BUILTIN_PREFIX) and value[len(BUILTIN_PREFIX) :] in profiles.BUILTIN:
        return store_profile(session, value[len(BUILTIN_PREFIX) :])
    number = value[3:] if value.startswith("id:") else ""
    # Bounded before the query: a 20-digit id overflows the database's integer (a 500, not a 400).
    valid = number.isascii() and number.isdigit() and len(number) <= 10
    valid = valid and int(number) < MAX_ROW_ID
    found = session.get(StoredProfile, int(number)) if valid else None
    if found is None:
        raise UsageError("Profile: choose one of the list.")
    return found


def listing(store: Store, page: int) -> Listing:
    at = now()
    with store.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Invite)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        found = session.execute(
            select(Invite, StoredProfile.name, StoredProfile.version)
            .join(StoredProfile, StoredProfile.id == Invite.profile_id)
            .order_by(Invite.created_at.desc(), Invite.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        rows = [
            Row(
                invite.id,
                invite.candidate_name,
                invite.candidate_email,
                f"{name}@{version}",
                hub_invites.state(invite, at).value,
                invite.uses_left,
                invite.uses_total,
                invite.expires_at,
                invite.created_at,
                invite.revoked_at is None,
            )
            for invite, name, version in found
        ]
    return Listing(rows, page, pages, total)


def _uses(text: str) -> int:
    text = text.strip()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not (
        1 <= int(text) <= hub_invites.MAX_USES
    ):
        raise UsageError(f"Runs allowed: a whole number from 1 to {hub_invites.MAX_USES}.")
    return int(text)


def _duration(text: str, what: str) -> timedelta:
    try:
        return hub_invites.parse_duration(text)
    except UsageError:
        raise UsageError(f"{what}: a number and h, d or w (for example 7d).") from None


async def _page(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    values: Form | None = None,
    created: list[Created] | None = None,
) -> Response:
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1

    def read() -> tuple[Listing, list[tuple[str, str]]]:
        store = hub(request).store
        with store.sessions() as session:
            choices = profile_choices(session)
        return listing(store, page), choices

    found, choices = await run_in_threadpool(read)
    return render(
        request,
        "invites.html.j2",
        status_code=status_code,
        title="Invites",
        found=found,
        choices=choices,
        error=error,
        values=values or Form(()),
        created=created or [],
        links_csv=links_csv(created) if created and len(created) > 1 else "",
        expiry_choices=EXPIRY_CHOICES,
        extend_choices=EXTEND_CHOICES,
        default_uses=hub_invites.DEFAULT_USES,
        max_uses=hub_invites.MAX_USES,
        max_csv_rows=hub_invites.MAX_CSV_ROWS,
    )


@signed_in()
async def invites_page(request: Request) -> Response:
    return await _page(request)


def _base_url(request: Request) -> str:
    # As the recruiter reached this server (https behind a trusted proxy that says so): the
    # address candidates are sent to.
    return str(request.base_url).rstrip("/")


@signed_in()
async def create_one(request: Request) -> Response:
    fields = await form(request)
    base = _base_url(request)

    def create() -> Created:
        uses = _uses(fields.get("uses", str(hub_invites.DEFAULT_USES)))
        expires_in = _duration(fields.get("expires", hub_invites.DEFAULT_EXPIRY), "Expires in")
        problem = hub_invites.email_problem(fields.get("email"))
        if problem:
            raise UsageError(f"E-mail: {problem}")
        if "\x00" in fields.get("candidate"):  # PostgreSQL stores no NUL; nobody's name has one
            raise UsageError("Name: a name cannot hold a NUL character.")

        def work(session: Session) -> hub_invites.NewInvite:
            profile = resolve_profile(session, fields.get("profile"))
            return hub_invites.create_invite(
                session, profile, candidate=fields.get("candidate"),
                email=fields.get("email") or None, uses=uses, expires_in=expires_in,
            )  # fmt: skip

        made = write(hub(request).store, work)
        return Created(
            made.invite.candidate_name,
            made.invite.candidate_email,
            hub_invites.link(base, made.secret),
        )

    try:
        created = await run_in_threadpool(create)
    except UsageError as exc:
        message = str(exc).replace("--candidate:", "Name:").replace("--email:", "E-mail:")
        return await _page(request, status_code=400, error=message, values=fields)
    return await _page(request, created=[created])


@signed_in()
async def create_many(request: Request) -> Response:
    fields = await form(request)
    upload = fields.files.get("csv")
    base = _base_url(request)

    def create() -> list[Created]:
        if upload is None or not upload.data:
            raise UsageError("Choose a CSV file of names and e-mails.")
        found = hub_invites.parse_candidates_csv(upload.data)
        uses = _uses(fields.get("uses", str(hub_invites.DEFAULT_USES)))
        expires_in = _duration(fields.get("expires", hub_invites.DEFAULT_EXPIRY), "Expires in")

        def work(session: Session) -> list[hub_invites.NewInvite]:
            profile = resolve_profile(session, fields.get("profile"))
            return hub_invites.create_invites(
                session, profile, found, uses=uses, expires_in=expires_in
            )

        made = write(hub(request).store, work)
        return [
            Created(
                m.invite.candidate_name, m.invite.candidate_email, hub_invites.link(base, m.secret)
            )
            for m in made
        ]

    try:
        created = await run_in_threadpool(create)
    except hub_invites.CsvError as exc:
        lines = "\n".join(exc.problems)
        return await _page(
            request, status_code=400, values=fields,
            error=f"Nothing was created; fix these lines and upload the file again:\n{lines}",
        )  # fmt: skip
    except UsageError as exc:
        return await _page(request, status_code=400, error=str(exc), values=fields)
    return await _page(request, created=created)


def _invite_id(request: Request) -> str:
    invite_id = str(request.path_params["invite_id"])
    if len(invite_id) > 40:
        raise Rejected(404, "No such invite.")
    return invite_id


@signed_in()
async def revoke(request: Request) -> Response:
    await form(request)
    invite_id = _invite_id(request)

    def change() -> str:
        with hub(request).store.sessions.begin() as session:
            return hub_invites.revoke(session, invite_id).candidate_name

    try:
        name = await run_in_threadpool(change)
    except UsageError:
        raise Rejected(404, "No such invite.") from None
    await flash(request, f"The invite of {name} is revoked: its link no longer works.")
    return see_other(PATH)


@signed_in()
async def extend(request: Request) -> Response:
    fields = await form(request)
    invite_id = _invite_id(request)

    def change() -> tuple[str, datetime]:
        by = _duration(fields.get("by", "7d"), "Extend by")
        with hub(request).store.sessions.begin() as session:
            if session.get(Invite, invite_id) is None:
                raise Rejected(404, "No such invite.")
            extended = hub_invites.extend(session, invite_id, by)
            return extended.candidate_name, extended.expires_at

    try:
        name, until = await run_in_threadpool(change)
    except UsageError as exc:
        raise Rejected(400, str(exc)) from None
    await flash(request, f"The invite of {name} now expires {until:%Y-%m-%d %H:%M} UTC.")
    return see_other(PATH)


ROUTES: tuple[BaseRoute, ...] = (
    Route(PATH, invites_page, methods=["GET"]),
    Route(PATH, create_one, methods=["POST"]),
    Route(BULK_PATH, create_many, methods=["POST"]),
    Route(f"{PATH}/{{invite_id}}/revoke", revoke, methods=["POST"]),
    Route(f"{PATH}/{{invite_id}}/extend", extend, methods=["POST"]),
)
