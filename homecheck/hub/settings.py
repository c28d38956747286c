"""The employer's settings as the dashboard edits them, each checked before it is stored: how
long reports are kept, whether the client's address is kept, and the webhook (its URL and the
secret its deliveries are signed with: homecheck/hub/webhooks.py). `homecheck admin settings`
prints them all."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from homecheck.errors import UsageError
from homecheck.hub.store import SettingName, get_setting, set_setting

MAX_RETENTION_DAYS = 36_500
MAX_URL_CHARS = 2000
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 200
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class HubSettings:
    retention_days: int
    store_client_ip: bool
    webhook_url: str  # "": no webhook
    webhook_secret: str


def read(session: Session) -> HubSettings:
    days = get_setting(session, SettingName.RETENTION_DAYS)
    return HubSettings(
        retention_days=int(days) if _whole(days) else 365,
        store_client_ip=get_setting(session, SettingName.STORE_CLIENT_IP) == "on",
        webhook_url=get_setting(session, SettingName.WEBHOOK_URL),
        webhook_secret=get_setting(session, SettingName.WEBHOOK_SECRET),
    )


def _whole(text: str) -> bool:
    # ASCII digits, few: str.isdigit() also takes "²" (int() refuses it), and int() refuses
    # strings of over 4300 digits.
    return text.isascii() and text.isdigit() and len(text) <= 9


def parse_retention_days(text: str) -> int:
    text = text.strip()
    if not _whole(text) or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise UsageError(f"retention: a whole number of days between 1 and {MAX_RETENTION_DAYS}")
    return int(text)


def set_retention_days(session: Session, days: int) -> None:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise UsageError(f"retention: a whole number of days between 1 and {MAX_RETENTION_DAYS}")
    set_setting(session, SettingName.RETENTION_DAYS, str(days))


def set_store_client_ip(session: Session, on: bool) -> None:
    set_setting(session, SettingName.STORE_CLIENT_IP, "on" if on else "off")


def new_webhook_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def check_webhook_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url) if url.isprintable() and len(url) <= MAX_URL_CHARS else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"webhook URL: an http:// or https:// address of at most {MAX_URL_CHARS} characters"
        )
    if " " in url:
        raise UsageError("webhook URL: no spaces (encode them as %20)")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise UsageError("webhook URL: the port is not a number") from None
    return url


def check_webhook_secret(secret: str) -> str:
    secret = secret.strip()
    if not (
        MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS
        and secret.isascii()
        and secret.isprintable()
        and " " not in secret
    ):
        raise UsageError(
            f"webhook secret: {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} printable ASCII characters "
            "without spaces (leave it empty for a new random one)"
        )
    return secret


def set_webhook(session: Session, url: str, secret: str = "") -> HubSettings:
    """Store the webhook's URL ("" turns it off) and its secret: the one given, else the one
    stored, else a new random one. Both are checked first (UsageError)."""
    url = check_webhook_url(url)
    if secret.strip():
        secret = check_webhook_secret(secret)
    else:
        secret = get_setting(session, SettingName.WEBHOOK_SECRET) or new_webhook_secret()
    set_setting(session, SettingName.WEBHOOK_URL, url)
    set_setting(session, SettingName.WEBHOOK_SECRET, secret)
    return read(session)
