"""`homecheck run --invite LINK`: the candidate's side of an employer's invite.

The link is BASE/i/SECRET (homecheck/hub/invites.py). The secret travels only as
`Authorization: Bearer SECRET`, never in a URL path. Before anything is measured the client
fetches BASE/api/invite (the speed-test server, the pinned profile, what is stored) and asks
consent; after the run it submits the report, in canonical JSON, to BASE/api/submit naming the
test session the server counted (its observations are stored when the client closes it). https is
trusted through the system's store (truststore), as every other connection of the client.

Standard library and truststore only: a candidate's install has no database packages.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from homecheck.errors import HomecheckError, UsageError

LINK_PATH = "/i/"
INVITE_PATH = "/api/invite"
SUBMIT_PATH = "/api/submit"
SESSION_HEADER = "X-Homecheck-Session"
TIMEOUT_S = 30.0
MAX_ANSWER_BYTES = 1 << 20


class InviteError(HomecheckError):
    """The invite could not be fetched or the report not submitted: one line."""


@dataclass(frozen=True)
class Link:
    base_url: str  # scheme://host[:port]
    secret: str  # base64url, as in the link

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or self.base_url


@dataclass(frozen=True)
class Invite:
    link: Link
    speed_test: str
    profile_name: str
    profile_version: int
    profile_toml: bytes
    stores_client_ip: bool


def parse_link(text: str) -> Link:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or LINK_PATH not in parts.path:
        raise UsageError(f"--invite {text!r}: not a homecheck invite link (https://HOST/i/SECRET)")
    prefix, _, secret = parts.path.rpartition(LINK_PATH)
    if not secret or "/" in secret:
        raise UsageError(f"--invite {text!r}: not a homecheck invite link (https://HOST/i/SECRET)")
    return Link(f"{parts.scheme}://{parts.netloc}{prefix}", secret)


def fetch(link: Link) -> Invite:
    status, answer = _call(link, "GET", INVITE_PATH)
    if status != 200:
        raise InviteError(f"the invite was not accepted: {_reason(status, answer)}")
    try:
        data = json.loads(answer)
        speed_test = str(data["speed_test"])
        invite = Invite(
            link=link,
            speed_test=speed_test,
            profile_name=str(data["profile_name"]),
            profile_version=int(data["profile_version"]),
            profile_toml=str(data["profile_toml"]).encode("utf-8"),
            stores_client_ip=data["stores_client_ip"] is True,
        )
    except (ValueError, KeyError, TypeError):
        raise InviteError(f"{link.base_url} did not answer as a homecheck server") from None
    if not speed_test.startswith(("http://", "https://")):
        raise InviteError(f"{link.base_url} named no speed-test server")
    return invite


def consent_text(invite: Invite, areas: list[str]) -> str:
    """What will be sent, to whom, in plain words (shown before anything is measured)."""
    ip = (
        "your IP address (this employer keeps it)"
        if invite.stores_client_ip
        else "not your IP address (this employer does not keep it)"
    )
    return (
        f"This test was sent by {invite.link.host}. When it ends, homecheck sends its report to "
        f"{invite.link.base_url}:\n"
        f"  - the results of: {', '.join(areas)} (judged with their profile "
        f"{invite.profile_name}, version {invite.profile_version});\n"
        "  - the names of programs that were using the network or the processor;\n"
        "  - no audio recording, no files, no user name;\n"
        f"  - {ip}.\n"
        f"The speed test runs against {invite.speed_test}. You can read the whole report first: "
        "it is also saved on this computer."
    )


def submit(invite: Invite, session_id: str, body: bytes) -> dict[str, Any]:
    """The receipt for the report in `body` (canonical JSON), or InviteError with the reason."""
    status, answer = _call(
        invite.link,
        "POST",
        SUBMIT_PATH,
        body=body,
        headers={SESSION_HEADER: session_id, "Content-Type": "application/json"},
    )
    if status != 200:
        raise InviteError(f"the report was not accepted: {_reason(status, answer)}")
    try:
        receipt = json.loads(answer)
    except ValueError:
        receipt = None
    if not isinstance(receipt, dict) or set(receipt) != {"payload", "signature"}:
        raise InviteError(f"{invite.link.base_url} answered without a receipt")
    return receipt


def _call(
    link: Link,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    parts = urlsplit(link.base_url)
    host = parts.hostname or ""
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port, timeout=TIMEOUT_S, context=_tls_context()
        )
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=TIMEOUT_S)
    try:
        conn.request(
            method,
            parts.path.rstrip("/") + path,
            body=body,
            headers={"Authorization": f"Bearer {link.secret}", **(headers or {})},
        )
        response = conn.getresponse()
        return response.status, response.read(MAX_ANSWER_BYTES)
    except ssl.SSLError as exc:
        raise InviteError(f"{link.base_url}: secure connection failed ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        what = getattr(exc, "strerror", None) or type(exc).__name__
        raise InviteError(f"{link.base_url} could not be reached ({what})") from None
    finally:
        conn.close()


def _tls_context() -> ssl.SSLContext:
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _reason(status: int, answer: bytes) -> str:
    try:
        data = json.loads(answer)
        message = str(data["error"]) if isinstance(data, dict) else ""
    except (ValueError, KeyError):
        message = ""
    return f"{message[:200] or 'refused'} (HTTP {status})"
