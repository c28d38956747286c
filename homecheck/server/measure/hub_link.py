"""The measurement plane's tie to the employer hub (`homecheck serve --db`).

Imported only when the server runs with --db: the plain measurement plane stays on the standard
library. Both calls touch the (synchronous) store, so the plane runs them in its executor, never
on its event loop (homecheck/hub/routes.py, the route contract).

What the server's kernel counted of a test under an invite becomes its `ServerObservations`
(M-Lab's ndt-server model: TCP_INFO of the server's own sockets, RFC 4898):
- download: the bytes the client acknowledged per download connection, `tcpi_bytes_acked` at
  the download's end minus at its start (measure/kernel.py); where the kernel does not tell
  (a server on macOS or Windows), the bytes the server wrote, and `method` says so;
- upload: the bytes the kernel received per upload stream (`tcpi_bytes_received`, transfers.py);
  both over the span the transfers of that direction covered (an upload stream ends when its
  last byte came; streams that carried nothing are left out), so parallel streams add up, ramp-up
  included;
- rtt_ms: the median over the test's download connections of the kernel's least RTT on each
  (`tcpi_min_rtt`, read at the download's end): the path's round trip. Not the smoothed RTT
  (`tcpi_rtt`): under load it adds the queue the test itself builds at the bottleneck (up to the
  queue's depth: a bloated line's hundreds of ms), while the
  client's `network.latency_ms`, which it is compared with, is timed on the quiet line. Kernels
  before 4.6 have no least RTT: the median smoothed RTT then, and `method` says so;
- upstream loss: the loss probe's packets that arrived against the highest sequence seen.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from homecheck.hub import ingest, invites
from homecheck.hub.corroboration import ServerObservations
from homecheck.server.sessions import DownloadRecord, Session, UploadRecord

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
    downloads = [(d.start, d.end, d.bytes) for d in session.downloads]
    uploads = [_upload_span(record) for record in session.uploads.values() if record.samples]
    transfers = tuple(("download", sent, round(end - start, 4)) for start, end, sent in downloads)
    transfers += tuple(("upload", got, round(end - start, 4)) for start, end, got in uploads)
    rtt_ms, rtt_how = _rtt_ms(session.downloads)
    return ServerObservations(
        download_mbps=_mbps([span for span in downloads if span[2] > 0]),
        upload_mbps=_mbps([span for span in uploads if span[2] > 0]),
        loss_up_pct=_loss_up_pct(session),
        rtt_ms=rtt_ms,
        transfers=transfers,
        method=_method(session, rtt_how),
    )


def _method(session: Session, rtt_how: str | None) -> str:
    parts = []
    if session.downloads:
        if all(d.kernel for d in session.downloads):
            parts.append(f"download: {KERNEL_ACKED}")
        else:
            parts.append(f"download: {APP_WRITTEN}")
    if session.uploads:
        kernel = all(record.kernel for record in session.uploads.values())
        parts.append(f"upload: {KERNEL_RECEIVED if kernel else APP_READ}")
    if rtt_how is not None:
        parts.append(f"rtt: {rtt_how}")
    return "; ".join(parts)


KERNEL_ACKED = "bytes the client acknowledged, by the server's kernel (TCP_INFO tcpi_bytes_acked)"
APP_WRITTEN = "bytes the server wrote (no TCP_INFO on this server: includes unsent buffer)"
KERNEL_RECEIVED = "bytes received, by the server's kernel (TCP_INFO tcpi_bytes_received)"
APP_READ = "bytes the server read (no TCP_INFO on this server)"
MIN_RTT = "median over the download connections of the kernel's least RTT (tcpi_min_rtt)"
SRTT = "median over the download connections of the kernel's smoothed RTT at their end (tcpi_rtt)"


def _rtt_ms(downloads: list[DownloadRecord]) -> tuple[float | None, str | None]:
    least = [d.min_rtt_ms for d in downloads if d.min_rtt_ms is not None and d.bytes > 0]
    if least:
        return round(statistics.median(least), 3), MIN_RTT
    smoothed = [d.srtt_ms for d in downloads if d.srtt_ms is not None and d.bytes > 0]
    if smoothed:
        return round(statistics.median(smoothed), 3), SRTT
    return None, None


def _upload_span(record: UploadRecord) -> tuple[float, float, int]:
    """(start, end, bytes) of an upload stream, its end when its last byte came: a stream the
    client left open after its phase (or one that got no share of a slow line) adds no time."""
    final = record.samples[-1][1]
    end = next(t for t, count in record.samples if count >= final)
    return record.start, end, final


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
