"""The web plane's ASGI middleware: what every request passes through, whatever router serves it.

- `Guard` (outermost): an error in any route is one log line and a JSON 500, never a traceback
  in the log or to the client; with the access log on, one line per request.
- `ProxyHeaders`: X-Forwarded-For / X-Forwarded-Proto believed only from the trusted proxies
  (`--forwarded-allow-ips`), as uvicorn's ProxyHeadersMiddleware does: the client is the right-most
  address in X-Forwarded-For that is not itself a trusted proxy.
- `BodyLimit`: a body over the bound is 413 (at once when Content-Length says so, else when the
  bound is crossed); a body that stalls for the idle timeout is 408. Heads are bounded by the
  server (Hypercorn's h11_max_incomplete_size).

Plain ASGI callables (no Starlette base class), so they also wrap whatever issues 13 and 14 mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from homecheck.server.web.options import TrustedProxies

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOG = logging.getLogger("homecheck.web")
# The longest piece of client-supplied text (a path, an exception message) written to the log.
LOGGED_TEXT_MAX = 200
# After a response, how long the unread rest of its request body may take to be dropped.
DRAIN_WAIT_S = 1.0
# The slowest a client may take a response (80 kbit/s) before it counts as not reading.
MIN_SEND_BYTES_PER_S = 10_000


class ClientNotReading(Exception):
    """A response the client does not take: the request ends, logged as the client's doing."""


class Guard:
    def __init__(self, app: ASGIApp, stall_timeout_s: float, access_log: bool = False) -> None:
        self.app = app
        self.stall_timeout_s = stall_timeout_s
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            # No route takes a NUL, and PostgreSQL refuses it in any text it is given.
            await send_json(send, 400, {"error": "the address holds a NUL character"})
            return
        started = time.monotonic()
        exchange = _Exchange(receive, send, self.stall_timeout_s)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientNotReading as exc:
            LOG.info(
                "web plane: %s %s: %s", scope.get("method", "?"), _printable(_path(scope)), exc
            )
        except ClientDisconnect:
            # The client ended its side before the body it announced (a half-close, a dropped
            # upload): an incomplete request, not a server failure.
            LOG.info(
                "web plane: %s %s: the body ended early", scope.get("method", "?"),
                _printable(_path(scope)),
            )  # fmt: skip
            if exchange.status is None:
                with contextlib.suppress(Exception):  # it may not read the answer either
                    await send_json(exchange.send, 400, {"error": "the request body ended early"})
                exchange.status = 400
        except Exception as exc:  # the catch-all: one line, never a traceback (issue 12)
            LOG.error(
                "web plane: %s %s failed: %s: %s",
                scope.get("method", "?"),
                _printable(_path(scope)),
                type(exc).__name__,
                _printable(str(exc)),
            )
            if exchange.status is None:
                with contextlib.suppress(Exception):  # the client left: nothing more to tell
                    await send_json(exchange.send, 500, {"error": "internal error"})
                exchange.status = exchange.status or 500
        if self.access_log:
            client = scope.get("client")
            LOG.info(
                '%s "%s %s HTTP/%s" %s %.0f ms',
                client[0] if client else "-",
                _printable(str(scope.get("method", "?"))),
                _printable(_path(scope)),
                scope.get("http_version", "?"),
                exchange.status if exchange.status is not None else "-",
                (time.monotonic() - started) * 1000,
            )


class _Exchange:
    """One request's receive and send, as the app sees them. Before the last piece of a response
    whose request body was not read to the end, the rest of that body is read and dropped: the
    server queues at most a few body messages for the app (Hypercorn's max_app_queue_size) and
    answers the end of the response by queueing http.disconnect behind them, so an app that
    answers without reading a body of many chunks would wait for ever and hold the connection."""

    def __init__(self, receive: Receive, send: Send, stall_timeout_s: float) -> None:
        self._receive = receive
        self._send = send
        self._stall_timeout_s = stall_timeout_s
        self.status: int | None = None
        self._request_done = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self._request_done = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        final = message["type"] == "http.response.body" and not message.get("more_body", False)
        drain = None
        if final and not self._request_done:
            drain = asyncio.create_task(self._drain())
        try:
            await self._bounded_send(message)
            if drain is not None:
                # The server queued http.disconnect as it ended the response: the drain ends now.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(drain, DRAIN_WAIT_S)
        finally:
            if drain is not None:
                drain.cancel()

    async def _bounded_send(self, message: Message) -> None:
        """A send the client does not take within the stall timeout (plus the time its size needs
        at MIN_SEND_BYTES_PER_S) ends the request: a client that stopped reading, or one that
        vanished where the server missed it (Hypercorn 0.18 waits for ever on an h2c upgrade
        whose client left before its HTTP/2 preface) does not hold the request for ever."""
        body = message.get("body", b"") if message["type"] == "http.response.body" else b""
        limit = self._stall_timeout_s + len(body) / MIN_SEND_BYTES_PER_S
        try:
            await asyncio.wait_for(self._send(message), limit)
        except TimeoutError:
            raise ClientNotReading(f"the client took nothing for {limit:.0f} s") from None

    async def _drain(self) -> None:
        while (await self._receive())["type"] == "http.request":
            pass
        self._request_done = True


class ProxyHeaders:
    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            client = scope.get("client")
            if self.trusted.trusts(client[0] if client else None):
                # In place, as uvicorn does: the Guard's access log reads the scope it was given.
                self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        proto = _header(scope, b"x-forwarded-proto")
        if proto is not None:
            # A chain of proxies appends: the first proxy saw the client's scheme.
            scheme = proto.split(",")[0].strip().lower()
            if scheme in {"http", "https"}:
                if scope["type"] == "websocket":
                    scheme = "wss" if scheme == "https" else "ws"
                scope["scheme"] = scheme
        forwarded_for = _header(scope, b"x-forwarded-for")
        if forwarded_for is not None:
            for item in reversed(forwarded_for.split(",")):
                host = item.strip()
                try:
                    ipaddress.ip_address(host)
                except ValueError:
                    break  # a garbled entry: keep the proxy's own address
                if not self.trusted.trusts(host):
                    scope["client"] = (host, 0)
                    break


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, stall_timeout_s: float, max_head_bytes: int
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.stall_timeout_s = stall_timeout_s
        self.max_head_bytes = max_head_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _head_size(scope) > self.max_head_bytes:
            # Hypercorn bounds a head still arriving (h11_max_incomplete_size); one that came
            # whole in a single read is measured here.
            await send_json(
                send, 431, {"error": f"the request head is over {self.max_head_bytes} bytes"}
            )
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await send_json(send, 413, {"error": self._too_large()})
            return
        received = 0
        body_done = False

        async def bounded_receive() -> Message:
            nonlocal received, body_done
            if body_done:
                # After the body only http.disconnect comes, whenever the client leaves.
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.stall_timeout_s)
            except TimeoutError:
                raise HTTPException(408, "the request body stalled") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        await self.app(scope, bounded_receive, send)

    def _too_large(self) -> str:
        return f"the request body is over {self.max_bytes} bytes"


async def send_json(send: Send, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _head_size(scope: Scope) -> int:
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + sum(len(key) + len(value) + 4 for key, value in scope.get("headers", ()))


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", ()) if key.lower() == name]
    if not values:
        return None
    return b",".join(values).decode("latin-1")


def _path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return str(scope.get("path", "?"))


def _printable(text: str) -> str:
    """Client text as one log line: control characters escaped (no forged lines), length capped."""
    cleaned = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text[:LOGGED_TEXT_MAX]
    )
    return cleaned + ("..." if len(text) > LOGGED_TEXT_MAX else "")
