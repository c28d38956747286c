"""The loss probe, client side: 500 small packets a second, counted by the other end.

The voice-like stream (voip_stream.py) is what a call sees, but at 50 packets a second a 15 s test
sends too few packets to read the loss rate closely: with n packets the binomial spread is
sqrt(p(1-p)/n), 0.9 pp at 3 % for n = 350. This stream sends ten times as many, 36 bytes each
(~300 kbit/s on the wire), and only while its direction is quiet (the server side and why:
homecheck/server/loss_probe.py):

- mode "echo" (the idle phase): the server marks each packet and answers it; a packet the server
  never marked was lost on the way up, one it marked but whose answer never came, on the way down;
- mode "count" (while downloading): the server only marks them (the downstream is full);
- mode "off" (while uploading): nothing goes up; the server sends a burst down instead
  (`request_downstream`), numbered, and this side notes which arrive.

At the end `wind_down` asks the server which seqs it received and how many it sent down
(GET session/{token}/loss). The figures are worked out in probes/network/analysis/loss.py.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading
from array import array
from enum import StrEnum

from homecheck import wire
from homecheck.wire import (
    DOWNSTREAM_PATH,
    FLAG_ECHO,
    FLAG_ORIGINATED,
    LOSS_PATH,
    LOSS_REPLY_MAGIC,
    LossPacket,
)
from probes.network.employer.session import Endpoint
from probes.network.employer.voice_stream import datagrams, paced

PPS = 500.0


class LossMode(StrEnum):
    """What the loss probe does in each phase (see above)."""

    ECHO = "echo"
    COUNT = "count"
    OFF = "off"


HTTP_TIMEOUT_S = 4.0  # the counts may queue behind a bloated upload


class LossStream:
    """`start()`, set `mode` as the phases change, `request_downstream()` before the upload,
    `wind_down()` then `finish()` at the end; then read the arrays, `up_seen` and `down_sent`."""

    def __init__(
        self,
        address: tuple[str, int] | tuple[str, int, int, int],
        family: socket.AddressFamily,
        token: bytes,
        pps: float = PPS,
    ) -> None:
        self.token = token
        self.interval_s = 1 / pps
        self.pps = pps
        self.mode = LossMode.ECHO
        self.sent_at = array("d")  # time.monotonic() each seq was sent; the seq is the index
        self.asked_echo = bytearray()  # 1 where the packet asked for an answer
        self.echoed = bytearray()  # 1 where its answer came back
        self.down_seen = bytearray()  # 1 where downstream packet seq arrived
        self.down_planned = 0  # packets the server agreed to send down
        self.cookie: bytes | None = None
        self.up_seen: bytes | None = None  # the server's bitmap, once `finish` got it
        self.down_sent: int | None = None
        self.errors: list[str] = []
        self._requests: list[threading.Thread] = []
        self._stop_sending = threading.Event()
        self._stop_receiving = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.connect(address)
        self._sock.settimeout(0.1)
        self._sender = threading.Thread(target=self._send_loop, daemon=True, name="hc-loss-send")
        self._receiver = threading.Thread(
            target=self._receive_loop, daemon=True, name="hc-loss-recv"
        )

    def start(self) -> None:
        self._receiver.start()
        self._sender.start()

    def request_downstream(self, endpoint: Endpoint, seconds: float) -> None:
        """Ask the server for `seconds` of packets down, from a thread of its own (a slow line
        must not hold up the upload); `finish` waits for it."""
        self._requests.append(
            _start(threading.Thread(target=self._request_downstream, args=(endpoint, seconds)))
        )

    def wind_down(self, endpoint: Endpoint | None) -> None:
        """Stop sending and, unless `endpoint` is None, fetch the server's counts meanwhile
        (the receiver keeps noting late packets until `finish`)."""
        self._stop_sending.set()
        if endpoint is not None:
            self._requests.append(
                _start(threading.Thread(target=self._fetch_counts, args=(endpoint,)))
            )

    def finish(self, stop: threading.Event) -> None:
        """Wait for the requests under way (each bounded by HTTP_TIMEOUT_S), then stop."""
        self._stop_sending.set()
        self._sender.join(1.0)
        for thread in self._requests:
            while thread.is_alive() and not stop.is_set():
                thread.join(0.05)
        self._stop_receiving.set()
        self._receiver.join(1.0)
        self._sock.close()

    def _request_downstream(self, endpoint: Endpoint, seconds: float) -> None:
        if self.cookie is None:
            self.errors.append("downstream: no echo came back, so there is no cookie to quote")
            return
        # Within the server's limit: it refuses more rather than cut it silently.
        seconds = min(seconds, endpoint.max_transfer_s)
        body = {"seconds": round(seconds, 2), "pps": self.pps, "cookie": self.cookie.hex()}
        path = DOWNSTREAM_PATH.format(token=endpoint.token)
        try:
            status, reply = _http(endpoint, "POST", path, json.dumps(body))
        except (OSError, ValueError, http.client.HTTPException) as exc:
            self.errors.append(f"downstream: {type(exc).__name__}")
            return
        if status != 202:
            self.errors.append(f"downstream: HTTP {status}")
            return
        packets = reply.get("packets")
        self.down_planned += packets if isinstance(packets, int) else 0

    def _fetch_counts(self, endpoint: Endpoint) -> None:
        # The burst may still be sending: whatever it sends after this is not counted, and
        # what is still under way falls in the tail that counts for neither side.
        try:
            status, reply = _http(endpoint, "GET", LOSS_PATH.format(token=endpoint.token))
            if status != 200:
                raise ValueError(f"HTTP {status}")
            up_seen = base64.b64decode(str(reply["up_seen"]), validate=True)
            down_sent = int(str(reply["down_sent"]))
        except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException) as exc:
            self.errors.append(f"counts: {exc}")
            return
        self.up_seen, self.down_sent = up_seen, down_sent

    def close(self) -> None:
        self._stop_sending.set()
        self._stop_receiving.set()
        self._sock.close()

    def _send_loop(self) -> None:
        seq = 0
        for at in paced(self.interval_s, self._stop_sending, 0.05):
            mode = self.mode
            if mode is LossMode.OFF:
                continue
            flags = FLAG_ECHO if mode is LossMode.ECHO else 0
            # Noted before it goes: on a short path the answer can beat this thread's next step.
            with self._lock:
                self.sent_at.append(at)
                self.asked_echo.append(1 if flags else 0)
                self.echoed.append(0)
            with contextlib.suppress(OSError):  # no route, network down: simply lost
                self._sock.send(wire.encode_loss(LossPacket(self.token, seq, flags)))
            seq += 1

    def _receive_loop(self) -> None:
        for data, _ in datagrams(self._sock, self._stop_receiving, stamped=False):
            packet = wire.decode_loss(data, LOSS_REPLY_MAGIC)
            if packet is None or packet.token != self.token:
                continue
            if packet.flags & FLAG_ORIGINATED:
                _set(self.down_seen, packet.seq)
                continue
            self.cookie = packet.cookie
            with self._lock:
                if packet.seq < len(self.echoed):
                    self.echoed[packet.seq] = 1


def _start(thread: threading.Thread) -> threading.Thread:
    thread.daemon = True
    thread.start()
    return thread


def _set(bits: bytearray, index: int) -> None:
    """bits[index] = 1, one byte per flag, grown on demand (bounded by the server's rate)."""
    if index >= 10_000_000:
        return
    if index >= len(bits):
        bits.extend(bytes(index + 1 - len(bits) + 4096))
    bits[index] = 1


def _http(
    endpoint: Endpoint, method: str, path: str, body: str | None = None
) -> tuple[int, dict[str, object]]:
    conn = endpoint.http(HTTP_TIMEOUT_S)
    headers = {"Host": endpoint.host_header}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read(8 << 20)
    finally:
        conn.close()
    parsed = json.loads(raw) if raw else {}
    return response.status, parsed if isinstance(parsed, dict) else {}
