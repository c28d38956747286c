"""Test sessions and the limits that keep `homecheck serve` bounded.

A session is one running network test. It holds a random token (the only way to use the
download, upload and UDP echo), counts its open transfers and UDP packets, and ends by itself
after its time (at most `Limits.max_session_s`) or after `Limits.idle_timeout_s` without test
traffic: bytes of a download or upload, echo or loss-probe packets. Asking for its records (the
JSON endpoints) is not traffic, so a client cannot hold a test slot by polling.

Tests at once are bounded in total (`max_sessions`) and per client address
(`max_tests_per_client`), so one address cannot take every slot.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from homecheck.errors import HomecheckError
from homecheck.wire import TOKEN_BYTES

MAX_UPLOAD_RECORDS = 64  # per session: bounds the memory a client can make us keep


@dataclass(frozen=True)
class Limits:
    """Every resource a client can ask for is bounded here."""

    max_sessions: int = 8  # concurrent tests
    max_tests_per_client: int = 2  # concurrent tests from one client address
    max_session_s: float = 3700.0  # a --duration run of an hour plus its speed phases
    # Parallel download/upload streams of one test: twice the client's 8, so the upload's streams
    # are never refused while the download's are still being closed.
    max_transfers_per_session: int = 16
    max_transfer_s: float = 30.0  # one download or upload request
    max_request_bytes: int = 4_000_000_000  # one download or upload request
    idle_timeout_s: float = 10.0  # a session, a stalled transfer or a silent connection
    head_timeout_s: float = 5.0  # a request head must be complete this long after its first byte
    max_connections: int = 1000  # open TCP connections; at the bound the oldest idle one goes
    max_udp_pps: float = 200.0  # echo packets per second per session (the client sends 50)
    max_loss_pps: float = 1000.0  # loss-probe packets per second each way (the client uses 500)

    def public(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass
class UploadRecord:
    """One upload stream as the server saw it; times are seconds since the session began."""

    start: float
    samples: list[tuple[float, int]]  # (time, bytes received so far)
    kernel: bool  # counted by the kernel (TCP_INFO) rather than as read by the app


@dataclass(frozen=True)
class DownloadRecord:
    """One finished download as the server saw it; times are seconds since the session began.
    `kernel`: `bytes` is what the client acknowledged (TCP_INFO, measure/kernel.py), else what
    the server wrote; the RTTs are the kernel's at the download's end (None without TCP_INFO)."""

    start: float
    end: float
    bytes: int
    kernel: bool
    srtt_ms: float | None = None
    min_rtt_ms: float | None = None


@dataclass
class LossRecord:
    """The loss probe as the server saw it: which seqs arrived, and the downstream it sent."""

    seen: bytearray = field(default_factory=bytearray)  # bit i: seq i arrived
    received: int = 0  # distinct seqs
    allowance: float = 0.0
    refilled: float = 0.0
    down_sent: int = 0
    down_running: bool = False
    addresses: list[Any] = field(default_factory=list)  # where its echoed packets came from

    def mark(self, seq: int, max_seq: int) -> None:
        if seq >= max_seq:
            return
        byte, bit = divmod(seq, 8)
        if byte >= len(self.seen):
            self.seen.extend(bytes(byte + 1 - len(self.seen) + 4096))
        if not self.seen[byte] >> bit & 1:
            self.seen[byte] |= 1 << bit
            self.received += 1


@dataclass
class Session:
    token: bytes
    created: float  # time.monotonic()
    expires: float
    last_seen: float  # the last test traffic (not a request for records)
    client: str = ""  # the client's address, for the per-address limit
    transfers: int = 0
    udp_count: int = 0
    udp_allowance: float = 0.0
    udp_refilled: float = 0.0
    uploads: dict[int, UploadRecord] = field(default_factory=dict)
    loss: LossRecord = field(default_factory=LossRecord)
    # Under an employer's invite (homecheck serve --db): the hub's test session id, and each
    # finished download.
    hub_session: str | None = None
    downloads: list[DownloadRecord] = field(default_factory=list)

    def elapsed(self, now: float) -> float:
        return now - self.created

    def record_upload(self, stream: int, start: float, kernel: bool) -> list[tuple[float, int]]:
        """A fresh sample list for this upload stream (a reused id replaces the old record)."""
        if stream not in self.uploads and len(self.uploads) >= MAX_UPLOAD_RECORDS:
            del self.uploads[next(iter(self.uploads))]
        record = UploadRecord(start, [(start, 0)], kernel)
        self.uploads[stream] = record
        return record.samples


class Busy(HomecheckError):
    """Too many concurrent tests."""


class BusyClient(Busy):
    """Too many concurrent tests from one address."""


class SessionTable:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._sessions: dict[bytes, Session] = {}
        # Called with each session that ends by expiring (the plane records its observations).
        self.on_end: Callable[[Session], None] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, seconds: float, client: str = "", now: float | None = None) -> Session:
        """A new session of `seconds` (the caller checked the range) for `client`."""
        now = time.monotonic() if now is None else now
        self.reap(now)
        if len(self._sessions) >= self.limits.max_sessions:
            raise Busy("the server is running its maximum number of tests; try again soon")
        mine = sum(1 for s in self._sessions.values() if s.client == client)
        if mine >= self.limits.max_tests_per_client:
            raise BusyClient(
                f"this address already runs {mine} tests at once (the server's limit per "
                "address); try again when one has finished"
            )
        lifetime = min(seconds, self.limits.max_session_s)
        session = Session(
            client=client,
            token=secrets.token_bytes(TOKEN_BYTES),
            created=now,
            expires=now + lifetime,
            last_seen=now,
            udp_allowance=self.limits.max_udp_pps,
            udp_refilled=now,
        )
        self._sessions[session.token] = session
        return session

    def get(self, token: bytes, now: float | None = None, traffic: bool = False) -> Session | None:
        """The live session of `token`; `traffic` when test traffic brought it (it keeps the
        session alive; a request for its records does not)."""
        now = time.monotonic() if now is None else now
        session = self._sessions.get(token)
        if session is None:
            return None
        if self._expired(session, now):
            self._end(token)
            return None
        if traffic:
            session.last_seen = now
        return session

    def get_hex(self, token_hex: str, traffic: bool = False) -> Session | None:
        if len(token_hex) != 2 * TOKEN_BYTES:
            return None
        try:
            token = bytes.fromhex(token_hex)
        except ValueError:
            return None
        return self.get(token, traffic=traffic)

    def close(self, token: bytes) -> Session | None:
        """The session closed by its client (not passed to on_end: the caller records it)."""
        return self._sessions.pop(token, None)

    def reap(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            self._end(token)

    def end_all(self) -> None:
        """The server stops: every session ends."""
        for token in list(self._sessions):
            self._end(token)

    def _end(self, token: bytes) -> None:
        session = self._sessions.pop(token)
        if self.on_end is not None:
            self.on_end(session)

    def _expired(self, session: Session, now: float) -> bool:
        # A session with an open transfer is busy, not idle; the transfer has its own bounds.
        idle = session.transfers == 0 and now - session.last_seen > self.limits.idle_timeout_s
        return now > session.expires or idle

    def allow_udp(self, session: Session, now: float) -> bool:
        """Token bucket: at most max_udp_pps per second, bursts of one second's worth."""
        rate = self.limits.max_udp_pps
        session.udp_allowance = min(
            rate, session.udp_allowance + (now - session.udp_refilled) * rate
        )
        session.udp_refilled = now
        if session.udp_allowance < 1:
            return False
        session.udp_allowance -= 1
        return True

    def allow_loss_probe(self, session: Session, now: float) -> bool:
        """The same kind of bucket for the loss probe's packets."""
        rate, record = self.limits.max_loss_pps, session.loss
        if record.refilled == 0.0:
            record.allowance, record.refilled = rate, now
        record.allowance = min(rate, record.allowance + (now - record.refilled) * rate)
        record.refilled = now
        if record.allowance < 1:
            return False
        record.allowance -= 1
        return True

    def max_loss_seq(self) -> int:
        """Seqs past this are not recorded: bounds a session's bitmap (~460 KB at the limits)."""
        return int(self.limits.max_loss_pps * self.limits.max_session_s)
