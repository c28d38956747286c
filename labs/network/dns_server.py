"""A small authoritative DNS server (RFC 1035 over UDP) for the DNS-timing tests.

It answers every A query with one address after a set delay, AAAA with no data (NOERROR), and
names starting with "missing" with NXDOMAIN, so the system resolver (glibc getaddrinfo, reading
the namespace's /etc/resolv.conf) does a real lookup with a known server-side delay.

With `--name NAME=ADDRESS` (repeatable) it is the lab's public DNS instead: those names, and only
those, resolve (to their own addresses), every other name is NXDOMAIN. The public speed-test
stand-ins are reached by their real names this way (speed.cloudflare.com, www.speedtest.net ...),
and leaving a service's names out is a DNS failure for that service alone.

    python labs/network/dns_server.py --host 10.77.5.2 --delay-ms 40
    python labs/network/dns_server.py --host 10.77.5.2 --name speed.cloudflare.com=10.77.5.3
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
import time

TYPE_A, CLASS_IN = 1, 1


def answer(query: bytes, address: str, names: dict[str, str] | None = None) -> bytes | None:
    """The reply to `query`: `address` for any name, or with `names`, that name's address
    (NXDOMAIN for a name not in it)."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if qdcount != 1 or flags & 0x8000:
        return None
    labels, pos = [], 12
    while pos < len(query) and query[pos]:
        length = query[pos]
        labels.append(query[pos + 1 : pos + 1 + length].decode(errors="replace"))
        pos += 1 + length
    question_end = pos + 5
    if question_end > len(query):
        return None
    qtype, qclass = struct.unpack("!HH", query[pos + 1 : question_end])
    question = query[12:question_end]
    name = ".".join(labels).lower()
    if names:
        missing = name not in names
        address = names.get(name, address)
    else:
        missing = bool(labels) and labels[0].startswith("missing")
    rcode = 3 if missing else 0
    records = b""
    if not missing and qtype == TYPE_A and qclass == CLASS_IN:
        # The name as a pointer to the question (0xC00C), A, IN, TTL 0 (no caching), 4 bytes.
        records = struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, 0, 4) + socket.inet_aton(address)
    header = struct.pack(
        "!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1, 1 if records else 0, 0, 0
    )
    return header + question + records


def serve(
    host: str, port: int, delay_s: float, address: str, names: dict[str, str] | None = None
) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    print(f"dns listening {host}:{port}", flush=True)
    while True:
        query, client = sock.recvfrom(512)
        reply = answer(query, address, names)
        if reply is None:
            continue
        due = time.monotonic() + delay_s

        def send(reply: bytes = reply, client: tuple[str, int] = client, due: float = due) -> None:
            time.sleep(max(0.0, due - time.monotonic()))
            sock.sendto(reply, client)

        threading.Thread(target=send, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--address", default="10.77.99.9")
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME=ADDRESS",
        help="resolve NAME to ADDRESS, and only the names given (others: NXDOMAIN)",
    )
    args = parser.parse_args()
    names = dict(entry.lower().split("=", 1) for entry in args.name)
    serve(args.host, args.port, args.delay_ms / 1000.0, args.address, names)


if __name__ == "__main__":
    main()
