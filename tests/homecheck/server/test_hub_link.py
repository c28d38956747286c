"""The server's observations of a test (homecheck/server/measure/hub_link.py, a pure function of
the session's records) and the kernel reader under them (measure/kernel.py, on a real socket)."""

from __future__ import annotations

import socket
import time

import pytest

from homecheck.server.measure import kernel
from homecheck.server.measure.hub_link import APP_WRITTEN, KERNEL_ACKED, MIN_RTT, SRTT, observations
from homecheck.server.sessions import DownloadRecord, Session, UploadRecord
from tests.support.environment import need


def _session(downloads: list[DownloadRecord], uploads: dict[int, UploadRecord]) -> Session:
    return Session(b"t" * 16, 0.0, 60.0, 0.0, downloads=downloads, uploads=uploads)


def test_kernel_counts_make_the_figures_and_the_method_says_so() -> None:
    downloads = [
        DownloadRecord(1.0, 5.0, 5_000_000, True, srtt_ms=60.0, min_rtt_ms=40.0),
        DownloadRecord(1.0, 5.0, 5_000_000, True, srtt_ms=62.0, min_rtt_ms=41.0),
        DownloadRecord(1.0, 5.0, 5_000_000, True, srtt_ms=61.0, min_rtt_ms=39.0),
    ]
    # An upload stream that got its last byte at 8 s and was closed at 9 s; one that got none.
    upload = UploadRecord(
        6.0, [(6.0, 0), (7.0, 1_000_000), (8.0, 2_500_000), (9.0, 2_500_000)], True
    )
    empty = UploadRecord(6.0, [(6.0, 0), (11.0, 0)], True)
    seen = observations(_session(downloads, {1: upload, 2: empty}))
    assert seen.download_mbps == pytest.approx(15_000_000 * 8 / 4.0 / 1e6)
    assert seen.upload_mbps == pytest.approx(2_500_000 * 8 / 2.0 / 1e6)  # 6 s to 8 s
    assert seen.rtt_ms == 40.0  # the median least RTT, not the smoothed one
    assert seen.method is not None
    assert KERNEL_ACKED in seen.method and MIN_RTT in seen.method


def test_without_tcp_info_the_app_count_is_used_and_named() -> None:
    downloads = [DownloadRecord(0.0, 2.0, 1_000_000, False)]
    seen = observations(_session(downloads, {}))
    assert seen.download_mbps == pytest.approx(4.0)
    assert seen.rtt_ms is None
    assert seen.method == f"download: {APP_WRITTEN}"


def test_an_old_kernel_without_min_rtt_gives_the_smoothed_rtt() -> None:
    downloads = [DownloadRecord(0.0, 2.0, 1_000_000, True, srtt_ms=30.0, min_rtt_ms=None)]
    seen = observations(_session(downloads, {}))
    assert seen.rtt_ms == 30.0 and seen.method is not None and SRTT in seen.method


def test_the_kernel_reader_counts_acknowledged_bytes_on_a_real_socket() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        with client, server:
            before = kernel.read_sent(server)
            # Only Linux has TCP_INFO: elsewhere a skip, in CI (Linux) a failure.
            need(before is not None, "no TCP_INFO here (not Linux)")
            assert before is not None
            server.sendall(b"x" * 100_000)
            got = 0
            while got < 100_000:
                got += len(client.recv(65536))
            after = kernel.read_sent(server)
            assert after is not None
            # All received, so all acknowledged (the ACKs of loopback are immediate, but give
            # the kernel a moment to process the last one).
            for _ in range(100):
                if after.bytes_acked - before.bytes_acked >= 100_000:
                    break
                time.sleep(0.01)
                after = kernel.read_sent(server)
                assert after is not None
            assert after.bytes_acked - before.bytes_acked == 100_000
            assert after.min_rtt_ms is not None and 0 < after.min_rtt_ms < 50
