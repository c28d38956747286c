"""The streams' reading of HTTP answers: against a real `homecheck serve`, and against a small
HTTP server on 127.0.0.1 that refuses every download and upload."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from homecheck import aggregator, profiles
from homecheck.metrics import Metric
from homecheck.model import Cause, Verdict
from homecheck.probe import ProbeOptions
from homecheck.runner import run_probes
from probes.network import NetworkProbe, Timing
from probes.network.employer import session, throughput
from tests.support.serve import Served


def test_a_download_from_serve_reads_its_headers_without_an_error(
    loopback_server: Served,
) -> None:
    # One 1 MiB read brings the headers and often more than 64 KiB of body with them: that is
    # an HTTP answer, not "not a homecheck server".
    opened = session.open_session(loopback_server.url, seconds=30, timeout_s=3)
    try:
        for _ in range(3):
            transfer = throughput.download(opened.endpoint, 4, 1.0, threading.Event())
            assert transfer.errors == []
            assert transfer.accepted >= 4 and transfer.refused is None
    finally:
        session.close_session(opened)


class _Refusing(BaseHTTPRequestHandler):
    """Opens test sessions like `homecheck serve`, then refuses every transfer."""

    status = 403

    def do_POST(self) -> None:
        if self.path == "/api/speed/session":
            body = json.dumps({"token": "ab" * 16, "udp_port": None}).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(self.status)
        self.close_connection = True

    def do_GET(self) -> None:
        self.send_error(self.status if "/download" in self.path else 404)

    def do_DELETE(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=[403, 503])
def refusing_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    handler = type("Handler", (_Refusing,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    server.shutdown()
    server.server_close()


def test_refused_downloads_are_the_servers_doing_not_a_slow_line(
    refusing_server: tuple[str, int],
) -> None:
    url, status = refusing_server
    probe = NetworkProbe(Timing(idle_s=0.5, load_s=3.0, streams=2))
    result = run_probes([probe], ProbeOptions(server=url, dns_names=("localhost",))).results[0]
    assert Metric.DOWNLOAD_MBPS not in {m.metric for m in result.measurements}
    (download,) = [u for u in result.unmeasured if u.metric == Metric.DOWNLOAD_MBPS]
    assert f"refused every download request (HTTP/1.0 {status}" in download.reason
    assert "not with your connection" in download.reason
    # The upload too: the client reads the server's early answer instead of pushing on.
    (upload,) = [u for u in result.unmeasured if u.metric == Metric.UPLOAD_MBPS]
    assert f"refused every upload request (HTTP/1.0 {status}" in upload.reason
    assert "lost" not in upload.reason
    assert result.duration_s < 0.5 + 3.0 + 3.0 + 3  # gives up on refusals, not at a stall
    judgement = aggregator.judge(profiles.load("voice"), [result])
    (finding,) = [f for f in judgement.findings if f.requirement.metric == Metric.DOWNLOAD_MBPS]
    assert (finding.verdict, finding.cause) == (Verdict.NOT_MEASURED, Cause.PROBE_FAILED)


def test_the_default_stream_count_fits_the_servers_cap_from_download_to_upload(
    loopback_server: Served,
) -> None:
    # The upload's streams open 0.3 s after the download's were reset: the server must have let
    # them go by then, or some upload streams are refused ("at most N streams per test").
    streams = Timing().streams
    probe = NetworkProbe(Timing(idle_s=0.5, load_s=1.5))
    options = ProbeOptions(server=loopback_server.url, dns_names=("localhost",))
    result = run_probes([probe], options).results[0]
    for metric in (Metric.DOWNLOAD_MBPS, Metric.UPLOAD_MBPS):
        found = result.measurement(metric)
        assert found is not None, result.unmeasured
        assert found.method.startswith(f"{streams} parallel TCP streams")
    per_direction = result.details["throughput"]
    assert isinstance(per_direction, dict)
    for direction, info in per_direction.items():
        assert info["errors"] == [], (direction, info)
