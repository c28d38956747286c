"""A bounded random fuzz of the measurement plane's HTTP: 2,000 requests built from the real
endpoints with mutated methods, paths, query values, headers, framing and bodies. The server must
never answer 5xx, never log a traceback, and still serve a normal request afterwards."""

from __future__ import annotations

import contextlib
import json
import random
import socket
from collections.abc import Callable

from tests.support.serve import Served, call, open_session

METHODS = ["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "G\x00T", "", "get"]
NUMBERS = ["1", "0.5", "-1", "1e9", "nan", "inf", "9" * 400, "", "abc", "0x10", "1.5.2", "%00"]
JSON_VALUES = ["1", "0.5", "-1", "1e999", "NaN", '"5"', "true", "null", "[]", "{}", "9" * 400]


def _request(rng: random.Random, token: str) -> bytes:
    tok = rng.choice([token, "00", "zz" * 16, "", token.upper(), token + "00"])
    path = rng.choice(
        [
            "/api/speed/",
            "/api/speed",
            "/api/speed/session",
            f"/api/speed/session/{tok}",
            f"/api/speed/session/{tok}/uploads",
            f"/api/speed/session/{tok}/loss",
            f"/api/speed/session/{tok}/downstream",
            "/api/speed/download",
            "/api/speed/upload",
            "/",
            "/api/speed/../../etc/passwd",
            "/api/speed/session/%zz/loss",
            "*",
        ]
    )
    fields = [
        f"{name}={rng.choice(NUMBERS)}"
        for name in rng.sample(["token", "seconds", "stream", "seconds"], rng.randint(0, 4))
    ]
    if "token=" not in "".join(fields) and rng.random() < 0.5:
        fields.append(f"token={tok}")
    target = path + ("?" + "&".join(fields) if fields else "")
    body = b""
    if rng.random() < 0.6:
        pairs = [
            f'"{name}": {rng.choice(JSON_VALUES)}'
            for name in rng.sample(["seconds", "pps", "cookie"], rng.randint(0, 3))
        ]
        body = ("{" + ", ".join(pairs) + "}").encode()
        if rng.random() < 0.2:
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000)))
    headers = ["Host: fuzz", "Connection: close"]
    framing = rng.random()
    if framing < 0.5:
        headers.append(f"Content-Length: {len(body)}")
    elif framing < 0.6:
        headers.append(f"Content-Length: {rng.choice(['-1', 'x', '1, 2', '9' * 30, '0'])}")
    elif framing < 0.75:
        headers.append("Transfer-Encoding: chunked")
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if rng.random() < 0.7 else body
    elif framing < 0.8:
        headers.append("Expect: 100-continue")
    if rng.random() < 0.1:
        headers.append("Bad Header Line")
    if rng.random() < 0.05:
        headers.append("X-Long: " + "a" * 9000)
    version = rng.choice(["HTTP/1.1"] * 8 + ["HTTP/1.0", "HTTP/2", "FOO"])
    head = f"{rng.choice(METHODS)} {target} {version}\r\n" + "\r\n".join(headers) + "\r\n\r\n"
    return head.encode("latin-1") + body


def _status(port: int, data: bytes) -> int | None:
    """The status of the server's (last) reply, or None when it just closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # the end of what we send: no waiting for more
        reply = b""
        with contextlib.suppress(OSError):
            while len(reply) < 65536 and (chunk := sock.recv(65536)):
                reply += chunk
    statuses = [
        int(line[9:12])
        for line in reply.split(b"\r\n")
        if line.startswith(b"HTTP/1.1 ") and line[9:12].isdigit()
    ]
    return statuses[-1] if statuses else None


def test_random_requests_never_get_a_5xx(serve_factory: Callable[..., Served]) -> None:
    served = serve_factory("--max-tests-per-client", "1000", "--max-tests", "1000")
    _, session = open_session(served.port)
    token = str(session["token"])
    rng = random.Random(20261203)
    seen: dict[int | None, int] = {}
    for _ in range(2000):
        status = _status(served.port, _request(rng, token))
        seen[status] = seen.get(status, 0) + 1
        assert status is None or status < 500, (status, seen)
    assert sum(n for s, n in seen.items() if s is not None and 400 <= s < 500) > 1000, seen
    assert any(s in (200, 201, 202, 204) for s in seen), seen  # the fuzz reached real handlers
    status, body = call(served.port, "GET", "/api/speed/")
    assert status == 200 and json.loads(body)["service"] == "homecheck"
    served.process.terminate()
    served.process.wait(10)
    log = served.process.stderr.read() if served.process.stderr else ""
    assert "Traceback" not in log and "internal error" not in log, log
