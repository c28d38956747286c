"""The settings page (admins): privacy (how long reports are kept, whether the client's address
is kept) with the consent text candidates see under those settings, and the webhook (URL,
secret) with its delivery log.

- GET /dashboard/settings
- POST /dashboard/settings/privacy: `retention_days`, `store_client_ip` (a checkbox: "on").
- POST /dashboard/settings/webhook: `url` ("" turns it off), `secret` ("" keeps the stored one,
  or makes one), or `new_secret` to replace the secret with a new random one.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck import invite as client_invite
from homecheck import registry
from homecheck.dashboard.web import PREFIX, Form, flash, form, hub, render, see_other, signed_in
from homecheck.errors import UsageError
from homecheck.hub import settings as hub_settings
from homecheck.hub import webhooks
from homecheck.hub.accounts import Role
from homecheck.hub.store import Store

PATH = f"{PREFIX}/settings"
PRIVACY_PATH = f"{PATH}/privacy"
WEBHOOK_PATH = f"{PATH}/webhook"
EXAMPLE_PROFILE = "voice"


@dataclass(frozen=True)
class State:
    settings: hub_settings.HubSettings
    deliveries: list[webhooks.DeliveryLine]


def read(store: Store) -> State:
    with store.sessions() as session:
        return State(hub_settings.read(session), webhooks.delivery_log(session))


def consent_text(request: Request, stores_client_ip: bool) -> str:
    """The consent text a candidate's `homecheck run --invite` shows under these settings (the
    client's own function, on an invite to this server as this page was reached)."""
    base = str(request.base_url).rstrip("/")
    speed_test = getattr(request.app.state, "speed_test_url", None) or base
    example = client_invite.Invite(
        link=client_invite.Link(base, "SECRET"),
        speed_test=speed_test,
        profile_name=EXAMPLE_PROFILE,
        profile_version=1,
        profile_toml=b"",
        stores_client_ip=stores_client_ip,
    )
    return client_invite.consent_text(example, list(registry.NAMES))


async def _page(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    values: Form | None = None,
) -> Response:
    state = await run_in_threadpool(read, hub(request).store)
    return render(
        request,
        "settings.html.j2",
        status_code=status_code,
        title="Settings",
        settings=state.settings,
        deliveries=state.deliveries,
        consent_lines=consent_text(request, state.settings.store_client_ip).splitlines(),
        error=error,
        values=values,
        max_days=hub_settings.MAX_RETENTION_DAYS,
    )


@signed_in(Role.ADMIN)
async def settings_page(request: Request) -> Response:
    return await _page(request)


@signed_in(Role.ADMIN)
async def privacy(request: Request) -> Response:
    fields = await form(request)

    def save() -> None:
        days = hub_settings.parse_retention_days(fields.get("retention_days"))
        with hub(request).store.sessions.begin() as session:
            hub_settings.set_retention_days(session, days)
            hub_settings.set_store_client_ip(session, fields.get("store_client_ip") == "on")

    try:
        await run_in_threadpool(save)
    except UsageError as exc:
        return await _page(request, status_code=400, error=str(exc), values=fields)
    await flash(request, "Privacy settings saved.")
    return see_other(PATH)


@signed_in(Role.ADMIN)
async def webhook(request: Request) -> Response:
    fields = await form(request)

    def save() -> hub_settings.HubSettings:
        secret = fields.get("secret")
        if fields.get("new_secret"):
            secret = hub_settings.new_webhook_secret()
        with hub(request).store.sessions.begin() as session:
            return hub_settings.set_webhook(session, fields.get("url"), secret)

    try:
        saved = await run_in_threadpool(save)
    except UsageError as exc:
        return await _page(request, status_code=400, error=str(exc), values=fields)
    await flash(
        request,
        f"Webhook saved: each new submission is sent to {saved.webhook_url}."
        if saved.webhook_url
        else "Webhook off: nothing is sent.",
    )
    return see_other(PATH)


ROUTES: tuple[BaseRoute, ...] = (
    Route(PATH, settings_page, methods=["GET"]),
    Route(PRIVACY_PATH, privacy, methods=["POST"]),
    Route(WEBHOOK_PATH, webhook, methods=["POST"]),
)
