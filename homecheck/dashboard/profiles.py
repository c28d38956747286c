"""The profiles pages (admins): upload a profile's TOML, see every stored version, and preview
what a version requires, line by line in words.

- GET /dashboard/profiles: the versions and the upload form.
- POST /dashboard/profiles: the upload (multipart, field `profile`), validated exactly as
  `homecheck run --profile FILE` validates a file, with the CLI's messages; the same bytes again
  are the version already stored, changed bytes a new version of that name.
- GET /dashboard/profiles/{id}: one version: its requirements in words and its TOML as stored.
Profile text (names, labels, advice, the TOML itself) is the uploader's: shown as text, escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck import profiles
from homecheck.dashboard.web import PREFIX, Rejected, flash, form, hub, render, see_other, signed_in
from homecheck.hub import profile_store
from homecheck.hub.accounts import Role
from homecheck.hub.models import StoredProfile
from homecheck.hub.store import Store, write

PATH = f"{PREFIX}/profiles"
MAX_ROW_ID = 2**31  # row ids are 32-bit integers on PostgreSQL


def version_path(profile_id: int) -> str:
    return f"{PATH}/{profile_id}"


@dataclass(frozen=True)
class Version:
    profile_id: int
    name: str
    version: int
    sha256: str
    created_at: datetime


@dataclass(frozen=True)
class Preview:
    version: Version
    description: str
    lines: list[profile_store.PreviewLine]
    toml_lines: list[str]


def _version(row: StoredProfile) -> Version:
    return Version(row.id, row.name, row.version, row.sha256, row.created_at)


def versions(store: Store) -> list[Version]:
    with store.sessions() as session:
        return [_version(row) for row in profile_store.versions(session)]


def preview(store: Store, profile_id: int) -> Preview | None:
    if not 0 < profile_id < MAX_ROW_ID:  # beyond the database's integer: no such row
        return None
    with store.sessions() as session:
        row = session.get(StoredProfile, profile_id)
        if row is None:
            return None
        parsed = profile_store.as_profile(row)
        text = row.toml.decode("utf-8", errors="replace")
        return Preview(
            _version(row), parsed.description, profile_store.preview(parsed), text.splitlines()
        )


async def _list(request: Request, *, status_code: int = 200, error: str | None = None) -> Response:
    found = await run_in_threadpool(versions, hub(request).store)
    return render(
        request,
        "profiles.html.j2",
        status_code=status_code,
        title="Profiles",
        versions=found,
        error=error,
        max_kib=profile_store.MAX_UPLOAD_BYTES // 1024,
    )


@signed_in(Role.ADMIN)
async def profiles_page(request: Request) -> Response:
    return await _list(request)


@signed_in(Role.ADMIN)
async def upload(request: Request) -> Response:
    fields = await form(request)
    uploaded = fields.files.get("profile")
    if uploaded is None or not uploaded.data:
        return await _list(request, status_code=400, error="Choose a profile file (.toml).")

    def work(session: Session) -> tuple[Version, bool]:
        before = {row.id for row in profile_store.versions(session)}
        row = profile_store.upload(session, uploaded.data, uploaded.filename)
        return _version(row), row.id not in before

    def store() -> tuple[Version, bool]:
        return write(hub(request).store, work)

    try:
        stored, new = await run_in_threadpool(store)
    except profiles.ProfileError as exc:
        return await _list(request, status_code=400, error=str(exc))
    await flash(
        request,
        f"Stored {stored.name}, version {stored.version}."
        if new
        else f"Unchanged: this is {stored.name}, version {stored.version}, already stored.",
    )
    return see_other(version_path(stored.profile_id))


@signed_in(Role.ADMIN)
async def version_page(request: Request) -> Response:
    found = await run_in_threadpool(preview, hub(request).store, request.path_params["profile_id"])
    if found is None:
        raise Rejected(404, "No such profile version.")
    return render(
        request,
        "profile.html.j2",
        title=f"{found.version.name} version {found.version.version}",
        found=found,
    )


ROUTES: tuple[BaseRoute, ...] = (
    Route(PATH, profiles_page, methods=["GET"]),
    Route(PATH, upload, methods=["POST"]),
    Route(f"{PATH}/{{profile_id:int}}", version_page, methods=["GET"]),
)
