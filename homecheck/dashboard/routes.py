"""Every dashboard route, and the nav bar: explicit tuples (no discovery by file name). A page
module adds its ROUTES here, and its nav entry (label, path, the role it needs: Role.RECRUITER
pages are open to admins too)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from homecheck.dashboard import (
    audit_log,
    auth,
    candidate,
    candidates,
    invites,
    profiles,
    settings,
    users,
)
from homecheck.dashboard.web import PREFIX
from homecheck.hub.accounts import Role
from homecheck.hub.service import Hub

STATIC_PATH = f"{PREFIX}/static"

NAV: tuple[tuple[str, str, Role], ...] = (
    ("Candidates", candidates.PATH, Role.RECRUITER),
    ("Invites", invites.PATH, Role.RECRUITER),
    ("Profiles", profiles.PATH, Role.ADMIN),
    ("Users", users.PATH, Role.ADMIN),
    ("Settings", settings.PATH, Role.ADMIN),
    ("Audit log", audit_log.PATH, Role.ADMIN),
)

ROUTES: tuple[BaseRoute, ...] = (
    *auth.ROUTES,
    *candidates.ROUTES,
    *candidate.ROUTES,
    *audit_log.ROUTES,
    *invites.ROUTES,
    *profiles.ROUTES,
    *users.ROUTES,
    *settings.ROUTES,
    Mount(STATIC_PATH, app=StaticFiles(directory=Path(__file__).parent / "static")),
)


def attach(app: Starlette, hub: Hub) -> None:
    """What the handlers find on the app (homecheck.dashboard.web.hub, the nav bar): the web
    plane's app, whose routes include ROUTES, calls this once."""
    app.state.hub = hub
    app.state.dashboard_nav = NAV
