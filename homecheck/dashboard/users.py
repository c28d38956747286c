"""The users page (admins): who may sign in to the dashboard, with which role, and a form to
add one (as `homecheck admin create-user` does; the password is hashed with Argon2id in a worker
thread, never stored or logged)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck.dashboard.web import PREFIX, Form, flash, form, hub, render, see_other, signed_in
from homecheck.errors import UsageError
from homecheck.hub import accounts
from homecheck.hub.accounts import Role
from homecheck.hub.store import Store, write

PATH = f"{PREFIX}/users"


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    created_at: datetime


def users(store: Store) -> list[Account]:
    with store.sessions() as session:
        return [Account(u.email, u.role, u.created_at) for u in accounts.list_users(session)]


async def _page(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    values: Form | None = None,
) -> Response:
    return render(
        request,
        "users.html.j2",
        status_code=status_code,
        title="Users",
        users=await run_in_threadpool(users, hub(request).store),
        roles=[role.value for role in Role],
        error=error,
        values=values or Form(()),
        min_password=accounts.MIN_PASSWORD_CHARS,
    )


@signed_in(Role.ADMIN)
async def users_page(request: Request) -> Response:
    return await _page(request)


@signed_in(Role.ADMIN)
async def create(request: Request) -> Response:
    fields = await form(request)

    def add() -> str:
        role = accounts.parse_role(fields.get("role"))
        return write(
            hub(request).store,
            lambda session: (
                accounts.create_user(
                    session, fields.get("email"), fields.get("password"), role
                ).email
            ),
        )

    try:
        email = await run_in_threadpool(add)
    except UsageError as exc:
        # The form comes back filled in, but never with the password.
        kept = Form(tuple((k, v) for k, v in fields.fields if k != "password"))
        return await _page(request, status_code=400, error=str(exc), values=kept)
    await flash(request, f"{email} may now sign in.")
    return see_other(PATH)


ROUTES: tuple[BaseRoute, ...] = (
    Route(PATH, users_page, methods=["GET"]),
    Route(PATH, create, methods=["POST"]),
)
