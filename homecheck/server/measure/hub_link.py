"""The measurement plane's tie to the employer hub (`homecheck serve --db`).

Imported only when the server runs with --db: the plain measurement plane stays on the standard
library. Both calls touch the (synchronous) store, so the plane runs them in its executor, never
on its event loop (homecheck/hub/routes.py, the route contract).

What the server counted itself of a test under an invite becomes its `ServerObservations`:
- download: the bytes it wrote per download (the app's count: what it handed the kernel),
- upload: the bytes the kernel received per upload stream (TCP_INFO, transfers.py),
both over the span the transfers of that direction covered, so parallel streams add up;
- upstream loss: the loss probe's packets that arrived against the highest sequence seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homecheck.hub import ingest, invites
from homecheck.hub.corroboration import ServerObservations
from homecheck.server.sessions import Session

if TYPE_CHECKING:
    from homecheck.hub.service import Hub

BEARER = "bearer "


class HubLink:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def open(self, authorization: str) -> str:
        """The hub's session id for a test under the invite in `authorization` (Bearer);
        HomecheckError (UsageError, ingest.Refusal) with the reason otherwise."""
        if not authorization.lower().startswith(BEARER):
            raise ingest.Refusal(ingest.Refused.UNKNOWN_INVITE, "send the invite as a Bearer token")
        secret = invites.secret_from_link(authorization[len(BEARER) :])
        return ingest.open_session(self.hub.store, secret)

    def record(self, session: Session) -> None:
        if session.hub_session is not None:
            ingest.record_observations(self.hub.store, session.hub_session, observations(session))


def observations(session: Session) -> ServerObservations:
    """What the server saw of one test session (pure; times are seconds since it began)."""
    downloads = list(session.downloads)
    uploads = [
        (record.start, record.samples[-1][0], record.samples[-1][1])
        for record in session.uploads.values()
        if record.samples
    ]
    transfers = tuple(("download", sent, round(end - start, 4)) for start, end, sent in downloads)
    transfers += tuple(("upload", got, round(end - start, 4)) for start, end, got in uploads)
    return ServerObservations(
        download_mbps=_mbps(downloads),
        upload_mbps=_mbps(uploads),
        loss_up_pct=_loss_up_pct(session),
        transfers=transfers,
    )


def _mbps(spans: list[tuple[float, float, int]]) -> float | None:
    if not spans:
        return None
    seconds = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
    total = sum(count for _, _, count in spans)
    if seconds <= 0 or total <= 0:
        return None
    return round(total * 8 / seconds / 1e6, 3)


def _loss_up_pct(session: Session) -> float | None:
    record = session.loss
    highest = -1
    for index in range(len(record.seen) - 1, -1, -1):
        if record.seen[index]:
            highest = index * 8 + record.seen[index].bit_length() - 1
            break
    if highest < 0:
        return None
    return round(100.0 * (1 - record.received / (highest + 1)), 3)
