"""The little HTTP/1.1 the measurement plane speaks: a bounded request-head parser, strict numbers,
a chunked-body decoder, and plain JSON replies (RFC 9112). Standard library only.

Every number a client sends (a query string or a JSON body) is checked, never clamped: out of
range, not finite, too long to be a number, or of the wrong type is a `BadRequest` (HTTP 400)
whose message says which field and what it accepts.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

MAX_HEAD_BYTES = 8192  # request line and headers together (431 above)
MAX_HEADERS = 64
MAX_JSON_BYTES = 1024  # a JSON request body (413 above)
MAX_NUMBER_CHARS = 32  # a number written longer is out of every range here
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class BadRequest(Exception):
    """The request cannot be served as sent; `status` is the 4xx to answer with."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close  # the connection's framing is unknown: answer, then close


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-case; repeated headers joined with ", "
    keep_alive: bool
    content_length: int | None = None
    chunked: bool = False
    expect_continue: bool = False
    path_parts: list[str] = field(default_factory=list)

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


def parse_head(head: bytes) -> Request:
    """A request head (without the blank line that ends it) -> Request, or BadRequest."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest(400, "not an HTTP/1.1 request line", close=True)
    if len(lines) - 1 > MAX_HEADERS:
        raise BadRequest(431, f"at most {MAX_HEADERS} header lines", close=True)
    headers: dict[str, str] = {}
    lengths: set[str] = set()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise BadRequest(400, "a header line is not 'Name: value'", close=True)
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key == "content-length":
            lengths.update(v.strip() for v in text.split(","))
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    version = parts[2].decode("ascii", "replace")
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
    target = parts[1].decode("latin-1")
    path, _, query_text = target.partition("?")
    request = Request(
        method=parts[0].decode("ascii"),
        path=unquote(path),
        query=_query(query_text),
        headers=headers,
        keep_alive=keep_alive,
        expect_continue=headers.get("expect", "").lower() == "100-continue",
    )
    encoding = headers.get("transfer-encoding")
    if encoding is not None:
        if encoding.strip().lower() != "chunked" or lengths:
            raise BadRequest(400, "only Transfer-Encoding: chunked, without Content-Length", True)
        request.chunked = True
    elif lengths:
        (length,) = lengths if len(lengths) == 1 else ("x",)
        if not length.isdigit() or len(length) > 19:
            raise BadRequest(400, "Content-Length must be one whole number", close=True)
        request.content_length = int(length)
    request.path_parts = [p for p in request.path.split("/") if p]
    return request


def _query(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            found.setdefault(unquote(name), []).append(unquote(value))
    return found


def query_number(
    request: Request, name: str, low: float, high: float, default: float | None = None
) -> float:
    """A decimal number from the query string, in [low, high]; BadRequest otherwise."""
    values = request.query.get(name)
    if not values:
        if default is None:
            raise BadRequest(400, f"{name} is missing (a number from {low:g} to {high:g})")
        return default
    if len(values) > 1:
        raise BadRequest(400, f"{name} is given more than once")
    text = values[0]
    if len(text) > MAX_NUMBER_CHARS and text.isdigit():
        raise BadRequest(400, f"{name} is out of range: it must be from {low:g} to {high:g}")
    if not _DECIMAL.match(text) or len(text) > MAX_NUMBER_CHARS:
        raise BadRequest(400, f"{name} must be a plain number like 10 or 2.5 (got {text[:20]!r})")
    return _in_range(name, float(text), low, high)


def query_whole(request: Request, name: str, low: int, high: int, default: int) -> int:
    value = query_number(request, name, low, high, default)
    if value != int(value):
        raise BadRequest(400, f"{name} must be a whole number from {low} to {high}")
    return int(value)


def json_number(
    body: dict[str, Any], name: str, low: float, high: float, default: float | None = None
) -> float:
    """A number field of a JSON body, in [low, high]; BadRequest otherwise (never clamped)."""
    if name not in body:
        if default is None:
            raise BadRequest(400, f"{name} is missing (a number from {low:g} to {high:g})")
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(400, f"{name} must be a number from {low:g} to {high:g}, not text")
    return _in_range(name, float(value), low, high)


def _in_range(name: str, value: float, low: float, high: float) -> float:
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequest(400, f"{name} is out of range: it must be from {low:g} to {high:g}")
    return value


def _long_int(text: str) -> float:
    """JSON integers longer than any range here: infinite, so the range check refuses them
    (and a 4,000-digit number never reaches int())."""
    return float("inf") if len(text) > MAX_NUMBER_CHARS else int(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number in JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object (an empty body is {}); BadRequest when it is not one."""
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body, parse_int=_long_int, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadRequest(400, 'expected a JSON object like {"seconds": 15}') from None
    if not isinstance(parsed, dict):
        raise BadRequest(400, 'expected a JSON object like {"seconds": 15}')
    return parsed


class ChunkedBody:
    """Decodes a chunked body as it arrives (RFC 9112 section 7.1), keeping only the count of
    payload bytes (and, for a small body, the bytes themselves). Malformed framing is a
    BadRequest; chunk extensions and trailers are read and dropped, within MAX_HEAD_BYTES."""

    def __init__(self, keep: int = 0) -> None:
        self.keep = keep
        self.kept = bytearray()
        self.left = 0  # payload bytes left in the current chunk
        self.line = bytearray()
        self.state = "size"  # size, data, data-end, trailer, done
        self.done = False

    def feed(self, data: memoryview) -> int:
        """Payload bytes in `data`; sets `done` at the end of the body (the rest is ignored)."""
        payload = 0
        at = 0
        while at < len(data) and not self.done:
            if self.state == "data":
                take = min(self.left, len(data) - at)
                if len(self.kept) < self.keep:
                    self.kept += data[at : at + min(take, self.keep + 1 - len(self.kept))]
                payload += take
                self.left -= take
                at += take
                if self.left == 0:
                    self.state = "data-end"
                continue
            end = bytes(data[at : at + MAX_HEAD_BYTES]).find(b"\n")
            if end < 0:
                self.line += data[at:]
                at = len(data)
            else:
                self.line += data[at : at + end + 1]
                at += end + 1
                self._line(bytes(self.line).rstrip(b"\r\n"))
                self.line.clear()
            if len(self.line) > MAX_HEAD_BYTES:
                raise BadRequest(400, "a chunk-size line is too long", close=True)
        return payload

    def _line(self, line: bytes) -> None:
        if self.state == "data-end":
            if line:
                raise BadRequest(400, "a chunk does not end with CRLF", close=True)
            self.state = "size"
        elif self.state == "size":
            size = line.split(b";", 1)[0].strip()
            if not size or len(size) > 15 or any(c not in b"0123456789abcdefABCDEF" for c in size):
                raise BadRequest(400, "a chunk size is not a hex number", close=True)
            self.left = int(size, 16)
            self.state = "data" if self.left else "trailer"
        elif self.state == "trailer" and not line:
            self.done = True


def reply(
    status: int,
    payload: dict[str, Any] | None = None,
    close: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A complete response with a JSON body (none for 204)."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    lines = [f"HTTP/1.1 {status} {_reason(status)}"]
    if payload is not None:
        lines.append("Content-Type: application/json")
    if status != 204:
        lines.append(f"Content-Length: {len(body)}")
    lines += ["Cache-Control: no-store", *(f"{name}: {value}" for name, value in extra)]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error(status: int, message: str, close: bool = False) -> bytes:
    return reply(status, {"error": message}, close)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
