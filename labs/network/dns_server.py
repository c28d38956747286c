"""A small authoritative DNS server (RFC 1035 over UDP) for the DNS-timing tests.

It answers every A query with one address after a set delay, AAAA with no data (NOERROR), and
names starting with "missing" with NXDOMAIN, so the system resolver (glibc getaddrinfo, reading
the namespace's /etc/resolv.conf) does a real lookup with a known server-side delay.

    python labs/network/dns_server.py --host 10.77.5.2 --delay-ms 40
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
import time

TYPE_A, CLASS_IN = 1, 1


def answer(query: bytes, address: str) -> bytes | None:
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


def serve(host: str, port: int, delay_s: float, address: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    print(f"dns listening {host}:{port}", flush=True)
    while True:
        query, client = sock.recvfrom(512)
        reply = answer(query, address)
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
    args = parser.parse_args()
    serve(args.host, args.port, args.delay_ms / 1000.0, args.address)


if __name__ == "__main__":
    main()
