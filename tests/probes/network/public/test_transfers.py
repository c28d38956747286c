"""The public speed test's transfer engine against real local servers (127.0.0.1).

The speedtest.net stand-in (labs/network/speedtest_fake.py) serves `random{N}x{N}.jpg` and
`upload.php`, here also over https with a certificate from a throw-away test CA. What is checked:
TLS is verified (a context that does not trust the CA moves nothing), the download is counted by
the receiving kernel, the upload by what the server acknowledged and never by what was pushed
into the send buffer, a refusal is named, and a phase keeps to its time.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labs.network.speedtest_fake import FakeSpeedtest, Mode, https_listing
from probes.network.public import transfers
from probes.network.public.transfers import CountedBy, Request, Server
from tests.support.environment import need

LINUX = sys.platform == "linux"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("openssl") is not None, "`openssl` is not installed (it makes the test CA)")
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def fake(request: pytest.FixtureRequest, tls_dir: Path) -> Iterator[FakeSpeedtest]:
    with FakeSpeedtest(mode=getattr(request, "param", Mode.OK), tls_dir=tls_dir) as server:
        yield server


@pytest.fixture
def https(fake: FakeSpeedtest) -> Iterator[Server]:
    with https_listing(fake) as port:
        yield Server(
            "https", "127.0.0.1", port, tls=lambda: ssl.create_default_context(cafile=fake.ca_file)
        )


def settled(count: Callable[[], int]) -> int:
    """The stand-in's byte count once it stops changing: it adds a response's or a body's bytes
    when its handler ends, just after the client's reset."""
    last, until = -1, time.monotonic() + 3.0
    while (value := count()) != last and time.monotonic() < until:
        last = value
        time.sleep(0.2)
    return value


def jpg(stream: int, number: int) -> Request:
    return Request("GET", f"/speedtest/random4000x4000.jpg?x={stream}.{number}")


def upload_php(size: int) -> transfers.RequestFor:
    return lambda stream, number: Request("POST", f"/speedtest/upload.php?x={number}", (), size)


def test_download_over_https_is_counted_by_the_receiving_kernel(
    fake: FakeSpeedtest, https: Server
) -> None:
    heard: list[tuple[float, int]] = []
    started = time.monotonic()
    transfer = transfers.download(
        https, jpg, 4, 1.5, threading.Event(), on_sample=lambda t, b: heard.append((t, b))
    )
    elapsed = time.monotonic() - started

    assert transfer.errors == [] and transfer.accepted >= 4
    assert transfer.counted_by is (CountedBy.KERNEL_RECEIVED if LINUX else CountedBy.READ)
    assert transfer.steady is not None and transfer.steady.mbps > 50
    assert heard == transfer.samples  # every 100 ms sample reaches the callback
    assert 13 <= len(heard) <= 17  # ~100 ms apart over 1.5 s
    counts = [b for _, b in transfer.samples]
    assert counts == sorted(counts)
    # The kernel counts TLS records and HTTP headers too, and what it received but nobody read
    # when the phase ended; the server wrote at least what the client read.
    assert counts[-1] >= transfer.read_bytes > 0
    assert transfer.read_bytes <= settled(lambda: fake.bytes_sent)
    assert any(line.startswith("GET /speedtest/random4000x4000.jpg") for line in fake.seen)
    assert elapsed < 1.5 + 1.0


def test_a_looked_up_address_is_where_every_stream_goes(fake: FakeSpeedtest) -> None:
    """A backend looks its server's name up once (Server.address): the streams connect there and
    never ask DNS (a .invalid name cannot resolve, RFC 6761), while TLS still checks the name."""
    name = "speed.homecheck.invalid"
    with https_listing(fake, names=(f"DNS:{name}",)) as port:
        pinned = Server(
            "https",
            name,
            port,
            tls=lambda: ssl.create_default_context(cafile=fake.ca_file),
            address=(socket.AF_INET, ("127.0.0.1", port)),
        )
        transfer = transfers.download(pinned, jpg, 2, 1.0, threading.Event())
        unpinned = transfers.download(
            Server("https", name, port, tls=pinned.tls), jpg, 2, 1.0, threading.Event()
        )

    assert transfer.errors == [] and transfer.accepted >= 2
    assert transfer.steady is not None and transfer.steady.mbps > 10
    assert any(line.startswith("GET /speedtest/random4000x4000.jpg") for line in fake.seen)
    # Without the address the name is looked up, and fails: the pin is what connected above.
    assert unpinned.accepted == 0 and unpinned.errors and "gaierror" in unpinned.errors[0]


def test_an_untrusted_certificate_moves_nothing(fake: FakeSpeedtest, https: Server) -> None:
    """The server's certificate is checked: Python's default store has no test CA."""
    untrusting = Server(https.scheme, https.host, https.port, tls=ssl.create_default_context)

    transfer = transfers.download(untrusting, jpg, 2, 2.5, threading.Event())

    assert transfer.samples[-1][1] < 20_000  # handshakes only, no body
    assert transfer.steady is None and transfer.accepted == 0
    assert any("CERTIFICATE_VERIFY_FAILED" in e for e in transfer.errors), transfer.errors


def test_upload_over_https_is_counted_as_the_server_acknowledged(
    fake: FakeSpeedtest, https: Server
) -> None:
    transfer = transfers.upload(https, upload_php(2_000_000), 4, 1.5, threading.Event())

    assert transfer.errors == []
    assert transfer.accepted >= 4  # several bodies sent whole and answered size=N
    assert transfer.steady is not None and transfer.steady.mbps > 50
    assert transfer.counted_by is transfers.upload_counting()
    if LINUX:
        assert transfer.counted_by is CountedBy.KERNEL_ACKED
        acked = transfer.samples[-1][1]
        received = settled(lambda: fake.bytes_received)
        # The server read at most what was acknowledged (plus TLS records and request heads) by
        # the reset, which comes just after the last 100 ms sample: allow two intervals' bytes
        # for that moment (once, in a long run, the server had read 1.1 MB past the last sample
        # of a 150 MB/s loopback upload). What it had acknowledged but not read at the reset is
        # bounded by its receive buffers.
        interval = acked - transfer.samples[-2][1]
        assert received <= acked + 2 * interval
        assert acked <= received + 4 * 8 * 2**20


@contextlib.contextmanager
def deaf_server() -> Iterator[int]:
    """A server that accepts uploads and never reads a byte of them: its kernel acknowledges
    what fits in its receive window, then nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        listener.close()


@pytest.mark.skipif(not LINUX, reason="the kernel's acked count is Linux's TCP_INFO")
def test_a_server_that_stops_reading_shows_no_upload_speed() -> None:
    """Pushed bytes (send buffers of MBs) must not count: the acked count stops at the server's
    receive window and the phase ends as stalled, with no speed."""
    with deaf_server() as port:
        server = Server("http", "127.0.0.1", port)
        transfer = transfers.upload(server, upload_php(50_000_000), 2, 4.0, threading.Event())

    assert transfer.stalled
    acked = transfer.samples[-1][1]
    assert transfer.pushed_bytes > 4 * acked  # what a send-buffer count would have shown
    assert acked < 2 * 2**20  # the deaf server's receive windows, no more


@pytest.mark.parametrize("fake", [Mode.FORBIDDEN], indirect=True)
def test_a_refusal_is_named_and_ends_the_phase_early(fake: FakeSpeedtest) -> None:
    server = Server("http", "127.0.0.1", fake.port)
    started = time.monotonic()

    transfer = transfers.download(server, jpg, 2, 10.0, threading.Event())

    assert transfer.refused is not None and "403" in transfer.refused
    assert not transfer.stalled and transfer.steady is None
    assert time.monotonic() - started < transfers.STALL_S + 1.5


def test_stop_ends_a_phase_at_once(fake: FakeSpeedtest) -> None:
    server = Server("http", "127.0.0.1", fake.port)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()

    transfers.upload(server, upload_php(50_000_000), 4, 10.0, stop)

    assert time.monotonic() - started < 1.5


def test_without_an_acked_count_the_upload_counts_what_the_server_confirmed(
    fake: FakeSpeedtest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no acked count in reach: a body counts once the server's reply to it came
    (upload.php answers size=N after reading it all), never while it sits in a send buffer."""
    monkeypatch.setattr(transfers, "upload_counting", lambda: CountedBy.SERVER_REPLIES)
    server = Server("http", "127.0.0.1", fake.port)
    size = 524_288

    transfer = transfers.upload(server, upload_php(size), 4, 1.5, threading.Event())

    assert transfer.counted_by is CountedBy.SERVER_REPLIES
    counts = [b for _, b in transfer.samples]
    assert all(b % size == 0 for b in counts)  # whole, confirmed requests only
    # (A reply may come between the last sample and the end of the phase.)
    assert 0 < counts[-1] <= transfer.read_bytes == transfer.accepted * size
    assert counts[-1] <= settled(lambda: fake.bytes_received)  # the server read all that counted
    assert transfer.steady is not None and transfer.steady.mbps > 50
