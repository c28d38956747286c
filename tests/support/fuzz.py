"""A bounded random fuzz of an HTTP/1.1 server, over raw sockets (so framing can be broken too).

`fuzz(host, port, n=2000, seed=1)` sends `n` random requests (methods, paths from a list plus
random ones, headers, bodies, JSON with huge/NaN/negative numbers in the given field names, broken
framing: bad or conflicting Content-Length, bad chunks, truncated bodies, pipelined garbage) and
returns how the server answered: a Counter of status codes (every response on the connection,
pipelined ones included) plus "closed" (the server closed without answering), "timeout" (no
answer within `timeout_s`) and "garbage" (bytes that are not an HTTP response).

Each request is built from `random.Random(f"{seed}:{i}")`, so a failing case can be rebuilt alone
with `build_request(seed, i, ...)`, whatever the thread pool's order.
"""

from __future__ import annotations

import json
import random
import socket
import ssl
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

DEFAULT_PATHS = ("/", "/healthz")
METHODS = ("GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
ODD_METHODS = ("TRACE", "CONNECT", "PRI", "get", "G\tT", "GET/", "M" * 300, "", "BREW")
NUMBERS = (
    "9" * 400,
    "-" + "9" * 400,
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-1",
    "0",
    "-0.0",
    "3.5",
    "18446744073709551617",
    "1" + "0" * 30,
    '"10"',
    '"NaN"',
    "null",
    "true",
    "[]",
    "{}",
    '"' + "x" * 5000 + '"',
)


# RFC 9112 6.1: a request with a transfer coding the server does not understand gets 501 (Not
# Implemented); that 501 is the standard's answer to bad input, counted apart from server errors.
UNKNOWN_CODING = "501 for an unknown Transfer-Encoding"


@dataclass(frozen=True)
class FuzzRequest:
    data: bytes
    expected_responses: int  # how many answers a well-framed reading gives at most
    half_close: bool  # shut the write side after sending (a body that never comes)
    head: bool = False  # a HEAD request: its answer has no body
    unknown_coding: bool = False  # a Transfer-Encoding other than "chunked"


def fuzz(
    host: str,
    port: int,
    n: int = 2000,
    seed: int = 1,
    *,
    paths: Sequence[str] = DEFAULT_PATHS,
    json_fields: Sequence[str] = (),
    headers: Sequence[tuple[str, str]] = (),
    workers: int = 16,
    timeout_s: float = 5.0,
    tls: ssl.SSLContext | None = None,
) -> Counter[int | str]:
    """Send `n` random requests to host:port; the answers counted by status (see the module)."""
    counts: Counter[int | str] = Counter()

    def one(index: int) -> list[int | str]:
        request = build_request(
            seed, index, paths=paths, json_fields=json_fields, host=host, headers=headers
        )
        return send_and_read(host, port, request, timeout_s=timeout_s, tls=tls)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(one, range(n)):
            counts.update(outcome)
    return counts


def build_request(
    seed: int,
    index: int,
    *,
    paths: Sequence[str] = DEFAULT_PATHS,
    json_fields: Sequence[str] = (),
    host: str = "127.0.0.1",
    headers: Sequence[tuple[str, str]] = (),
) -> FuzzRequest:
    """`headers` go into every request (a session cookie, so the fuzz reaches signed-in pages)."""
    fixed = list(headers)
    rng = random.Random(f"{seed}:{index}")
    method = rng.choice(ODD_METHODS) if rng.random() < 0.08 else rng.choice(METHODS)
    target = _target(rng, paths)
    version = rng.choices(
        ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTX/1.1", ""], [85, 8, 2, 2, 2, 1]
    )[0]
    headers = list(fixed)
    if rng.random() < 0.95:
        headers.append(("Host", rng.choice([host, "example.org", "", "a" * 300, "[::1]:80"])))
    headers += _random_headers(rng)
    body = _body(rng, json_fields)
    framing = rng.choices(
        ["length", "none", "chunked", "short", "long", "double", "both", "bad-chunk", "pipeline"],
        [55, 10, 10, 5, 4, 4, 4, 4, 4],
    )[0]
    expected, half_close, trailer, unknown_coding = 1, False, b"", False
    if framing == "length":
        if body or method in {"POST", "PUT", "PATCH"}:
            headers.append(("Content-Length", str(len(body))))
    elif framing == "none":
        pass  # a body without framing: the server reads it as the next request
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = _chunked(rng, body)
    elif framing == "short":
        headers.append(("Content-Length", str(max(0, len(body) - rng.randint(1, 20)))))
    elif framing == "long":
        headers.append(("Content-Length", str(len(body) + rng.choice([1, 100, 10**6, 10**12]))))
        half_close = True
    elif framing == "double":
        headers.append(("Content-Length", str(len(body))))
        headers.append(("Content-Length", str(len(body) + 1)))
    elif framing == "both":
        headers.append(("Content-Length", str(len(body))))
        coding = rng.choice(["chunked", "gzip, chunked", "xchunked"])
        headers.append(("Transfer-Encoding", coding))
        unknown_coding = coding != "chunked"
        body = _chunked(rng, body)
    elif framing == "bad-chunk":
        headers.append(("Transfer-Encoding", "chunked"))
        body = rng.choice(
            [b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\nab", b"-1\r\n\r\n", b"ffffffffffff\r\n"]
        )
        half_close = True
    elif framing == "pipeline":
        headers.append(("Content-Length", str(len(body))))
        second = rng.choice(paths) if paths else "/"
        trailer = f"GET {second} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        expected = 2
    rng.shuffle(headers)
    if rng.random() < 0.5:
        headers.append(("Connection", "close"))
    head = f"{method} {target} {version}".rstrip() + "\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    data = head.encode("utf-8", "surrogatepass") + body + trailer
    if rng.random() < 0.03:
        data = data.replace(b"\r\n", b"\n")  # bare LF line ends
    if rng.random() < 0.02:  # not HTTP at all
        return FuzzRequest(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))), 1, False)
    return FuzzRequest(data, expected, half_close, method == "HEAD", unknown_coding)


def send_and_read(
    host: str,
    port: int,
    request: FuzzRequest,
    *,
    timeout_s: float = 5.0,
    tls: ssl.SSLContext | None = None,
) -> list[int | str]:
    """Send one FuzzRequest on a new connection and return the statuses of the answers."""
    raw = socket.create_connection((host, port), timeout=timeout_s)
    sock: socket.socket = tls.wrap_socket(raw, server_hostname=host) if tls else raw
    try:
        try:
            sock.sendall(request.data)
            if request.half_close and tls is None:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may refuse early (413, 400) and close while we still send
        statuses = _Reader(sock).responses(request.expected_responses, request.head)
        if request.unknown_coding:
            statuses = [UNKNOWN_CODING if status == 501 else status for status in statuses]
        return statuses
    finally:
        sock.close()


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.eof = False

    def responses(self, expected: int, head_request: bool) -> list[int | str]:
        statuses: list[int | str] = []
        finals = 0  # answers that are not 1xx
        try:
            while finals < expected:
                response_head = self._until(b"\r\n\r\n", limit=1 << 20)
                if response_head is None:
                    if not statuses:
                        statuses.append("closed" if not self.buffer else "garbage")
                    elif self.buffer:
                        statuses.append("garbage")
                    break
                status, headers = _parse_head(response_head)
                if status is None:
                    statuses.append("garbage")
                    break
                statuses.append(status)
                if status == 101:
                    break  # switched protocols (h2c, WebSocket): no more HTTP/1.1 answers
                if 100 <= status < 200:
                    continue
                finals += 1
                if not (head_request and finals == 1) and not self._skip_body(status, headers):
                    statuses.append("garbage")
                    break
                if headers.get("connection", "").lower() == "close":
                    break
        except TimeoutError:
            statuses.append("timeout")
        except OSError:
            if not statuses:
                statuses.append("closed")
        return statuses

    def _skip_body(self, status: int, headers: dict[str, str]) -> bool:
        if status in {204, 304}:
            return True
        if "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                return False
            return self._exactly(int(length)) is not None
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size_line = self._until(b"\r\n", limit=1024)
                if size_line is None:
                    return False
                try:
                    size = int(size_line.split(b";")[0], 16)
                except ValueError:
                    return False
                if self._exactly(size + 2) is None:
                    return False
                if size == 0:
                    return True
        # HEAD answers and bodies ended by closing: nothing more to frame on this connection.
        return True

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _until(self, marker: bytes, limit: int) -> bytes | None:
        while marker not in self.buffer:
            if len(self.buffer) > limit or not self._fill():
                return None
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _exactly(self, count: int) -> bytes | None:
        while len(self.buffer) < count:
            if not self._fill():
                return None
        found, self.buffer = self.buffer[:count], self.buffer[count:]
        return found


def _parse_head(head: bytes) -> tuple[int | None, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return None, {}
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def _target(rng: random.Random, paths: Sequence[str]) -> str:
    roll = rng.random()
    if roll < 0.65 and paths:
        target = rng.choice(paths)
    elif roll < 0.75:
        target = "/" + "/".join(_token(rng) for _ in range(rng.randint(0, 5)))
    elif roll < 0.85:
        target = "/" + "".join(
            rng.choice(["%", "%zz", "%00", "%ff", "%2e%2e/", "../", "//", "\\", ";", "%u1234"])
            + _token(rng)
            for _ in range(rng.randint(1, 6))
        )
    elif roll < 0.9:
        target = "/" + "x" * rng.choice([1000, 8000, 20000])
    elif roll < 0.95:
        target = rng.choice(["*", "http://example.org/", "example.org:443", "", "/\x7f", "/ä"])
    else:
        target = "/" + "".join(chr(rng.choice([0x0B, 0x1B, 0x2028, 0xD800 + 1])) for _ in range(3))
    if rng.random() < 0.2:
        target += "?" + "&".join(f"{_token(rng)}={_token(rng)}" for _ in range(rng.randint(0, 4)))
    return target


def _random_headers(rng: random.Random) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    if rng.random() < 0.3:
        headers.append(("Content-Type", rng.choice(["application/json", "text/plain", "x/y", ""])))
    if rng.random() < 0.05:
        headers.append(("Expect", "100-continue"))
    if rng.random() < 0.05:
        headers.append(("Upgrade", rng.choice(["h2c", "websocket", "TLS/1.0"])))
        headers.append(("Connection", "Upgrade"))
    if rng.random() < 0.05:
        headers.append(("X-Forwarded-For", rng.choice(["1.2.3.4", "junk", "1.2.3.4, ::1", ""])))
        headers.append(("X-Forwarded-Proto", rng.choice(["https", "gopher", ""])))
    for _ in range(rng.choice([0, 0, 1, 2, 5, 150])):
        headers.append((_token(rng) or "X", _token(rng)))
    roll = rng.random()
    if roll < 0.03:
        headers.append(("X-Big", "b" * rng.choice([10_000, 70_000])))
    elif roll < 0.05:
        headers.append(("Bad Name", "v"))
    elif roll < 0.07:
        headers.append(("X-Folded", "a\r\n b"))
    elif roll < 0.09:
        headers.append(("X-Nul", "a\x00b"))
    return headers


def _body(rng: random.Random, json_fields: Sequence[str]) -> bytes:
    roll = rng.random()
    if roll < 0.35:
        return b""
    if roll < 0.75:
        fields = list(json_fields) or ["seconds", "pps", "size"]
        chosen = rng.sample(fields, k=rng.randint(1, len(fields)))
        items = [f"{json.dumps(name)}: {rng.choice(NUMBERS)}" for name in chosen]
        if rng.random() < 0.1:
            items.append(f"{json.dumps(_token(rng))}: {rng.choice(NUMBERS)}")
        text = "{" + ", ".join(items) + "}"
        if rng.random() < 0.1:
            text = text[: rng.randint(0, len(text))]  # cut short: not JSON any more
        return text.encode()
    if roll < 0.85:
        return rng.choice([b"[]", b"null", b"1", b'"x"', b"{", b"[" * 10000, b"{}" * 3])
    return bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 100, 5000])))


def _chunked(rng: random.Random, body: bytes) -> bytes:
    out = b""
    while body:
        size = rng.randint(1, max(1, len(body)))
        out += f"{size:x}\r\n".encode() + body[:size] + b"\r\n"
        body = body[size:]
    return out + b"0\r\n\r\n"


def _token(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$'()*+,="
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
