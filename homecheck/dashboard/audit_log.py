"""The audit log page (admins): sign-ins and their failures, sign-outs, exports and deletions,
newest first, PAGE_SIZE a page, filtered by action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck.dashboard.web import PREFIX, Audit, hub, render, signed_in
from homecheck.hub.accounts import Role
from homecheck.hub.models import AuditEntry
from homecheck.hub.store import Store

PATH = f"{PREFIX}/audit"
PAGE_SIZE = 100
ACTION_LABELS = {
    Audit.SIGN_IN: "Signed in",
    Audit.SIGN_IN_FAILED: "Sign-in failed",
    Audit.SIGN_OUT: "Signed out",
    Audit.EXPORT: "Export",
    Audit.DELETE_CANDIDATE: "Candidate deleted",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    user_email: str | None
    action: str  # the label
    detail: str
    client_address: str | None


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    total: int
    page: int
    pages: int


def _label(action: str) -> str:
    try:
        return ACTION_LABELS.get(Audit(action), action)
    except ValueError:
        return action


def entries(store: Store, action: Audit | None, page: int) -> Page:
    where = [] if action is None else [AuditEntry.action == action.value]
    with store.sessions() as session:
        total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        rows = session.scalars(
            select(AuditEntry)
            .where(*where)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
        found = [
            Entry(r.at, r.user_email, _label(r.action), r.detail, r.client_address) for r in rows
        ]
    return Page(found, total, page, pages)


@signed_in(Role.ADMIN)
async def audit_page(request: Request) -> Response:
    try:
        action: Audit | None = Audit(request.query_params.get("action", ""))
    except ValueError:
        action = None
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    found = await run_in_threadpool(entries, hub(request).store, action, page)
    return render(
        request,
        "audit_log.html.j2",
        title="Audit log",
        found=found,
        action=action,
        actions=[(a.value, label) for a, label in ACTION_LABELS.items()],
    )


ROUTES: tuple[BaseRoute, ...] = (Route(PATH, audit_page, methods=["GET"]),)
