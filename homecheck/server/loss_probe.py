"""The loss probe, server side: count the client's small packets, answer those that ask, and send
the downstream burst (the packet format and the HTTP paths are in homecheck/wire.py).

Why it exists: the voice-like stream sends 50 packets a second, so a 15 s test sees ~350 packets
each way and reads a 3 % loss as 3 +- 1.8 % (95 %). Counting loss needs many packets, not big
ones: the client sends 500 small (36-byte) packets a second besides the voice stream.

Each direction is counted only while it is quiet: the client's packets go up while the line is
idle and while downloading (the upstream then carries only acknowledgements); while the client
uploads, the server sends the packets down instead (the downstream is quiet then). So what is
counted is the line's own loss, not the queue overflow the speed test itself causes.

The downstream burst is the only traffic the server starts by itself. It goes only to an address
that has received one of its echoes: each echo carries a cookie, an HMAC of the session token and
the address it was sent to, and the burst request must quote it (a forged source address never
sees the cookie). Its rate and length are bounded by `Limits.max_loss_pps` and `max_transfer_s`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import socket
import threading
import time
from typing import Any

from homecheck import wire
from homecheck.server.measure.http import BadRequest, json_number
from homecheck.server.sessions import Limits, Session, SessionTable
from homecheck.wire import (
    COOKIE_BYTES,
    FLAG_ECHO,
    FLAG_ORIGINATED,
    LOSS_REPLY_MAGIC,
    LossPacket,
)

TICK_S = 0.005  # the downstream burst sends what is due every 5 ms
MAX_ADDRESSES = 4  # per session: where its loss packets came from


class LossProbe:
    def __init__(self, sock: socket.socket, sessions: SessionTable) -> None:
        self.sock = sock
        self.sessions = sessions
        self._secret = secrets.token_bytes(32)
        self._tasks: set[asyncio.Task[None]] = set()

    def cookie(self, token: bytes, address: Any) -> bytes:
        mac = hmac.new(self._secret, token + repr(tuple(address)).encode(), hashlib.sha256)
        return mac.digest()[:COOKIE_BYTES]

    def handle(self, data: bytes, address: Any) -> None:
        packet = wire.decode_loss(data)
        if packet is None:
            return
        now = time.monotonic()
        session = self.sessions.get(packet.token, now, traffic=True)
        if session is None or not self.sessions.allow_loss_probe(session, now):
            return
        session.loss.mark(packet.seq, self.sessions.max_loss_seq())
        if not packet.flags & FLAG_ECHO:
            return
        seen = session.loss.addresses
        if address not in seen:
            seen.append(address)
            del seen[:-MAX_ADDRESSES]
        reply = LossPacket(packet.token, packet.seq, FLAG_ECHO, self.cookie(packet.token, address))
        with contextlib.suppress(OSError):  # the client went away: nothing to do
            self.sock.sendto(wire.encode_loss(reply, LOSS_REPLY_MAGIC), address)

    def _address_for(self, session: Session, cookie: bytes) -> Any:
        for address in session.loss.addresses:
            if hmac.compare_digest(self.cookie(session.token, address), cookie):
                return address
        return None

    async def _send_down(
        self, session: Session, address: Any, pps: float, count: int, stopping: threading.Event
    ) -> None:
        record = session.loss
        record.down_running = True
        start, done = time.monotonic(), 0
        try:
            while done < count and not stopping.is_set():
                if self.sessions.get(session.token) is not session:
                    return  # the session ended (closed, expired)
                due = min(count, int((time.monotonic() - start) * pps) + 1)
                while done < due:
                    packet = LossPacket(session.token, record.down_sent, FLAG_ORIGINATED)
                    try:
                        self.sock.sendto(wire.encode_loss(packet, LOSS_REPLY_MAGIC), address)
                    except BlockingIOError:
                        break  # the socket buffer is full: the rest on the next tick
                    except OSError:
                        return  # the client's network is gone
                    record.down_sent += 1
                    done += 1
                await asyncio.sleep(TICK_S)
        finally:
            record.down_running = False

    def start_downstream(
        self, session: Session, body: dict[str, Any], limits: Limits, stopping: threading.Event
    ) -> dict[str, Any]:
        """POST session/{token}/downstream: start the burst; its reply (202), or BadRequest."""
        seconds = json_number(body, "seconds", 0.1, limits.max_transfer_s)
        pps = json_number(body, "pps", 1.0, limits.max_loss_pps)
        cookie = _cookie(body.get("cookie"))
        if cookie is None:
            raise BadRequest(400, 'cookie must be "<16 hex digits>" from an echoed packet')
        address = self._address_for(session, cookie)
        if address is None:
            raise BadRequest(403, "no echoed loss-probe packet carries this cookie")
        if session.loss.down_running:
            raise BadRequest(409, "a downstream burst is already running for this session")
        count = int(seconds * pps)
        session.loss.down_running = True  # before the task runs: a second request is refused
        task = asyncio.create_task(self._send_down(session, address, pps, count, stopping))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"packets": count, "pps": pps, "seconds": seconds}

    def counts(self, session: Session) -> dict[str, Any]:
        """GET session/{token}/loss."""
        record = session.loss
        return {
            "up_seen": base64.b64encode(bytes(record.seen).rstrip(b"\0")).decode(),
            "up_received": record.received,
            "down_sent": record.down_sent,
            "down_done": not record.down_running,
        }


def _cookie(value: object) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * COOKIE_BYTES:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None
