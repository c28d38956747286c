"""Issue 13's whole flow on a shaped lab link (labs.network): `homecheck serve --db` in the
server's namespace, the candidate's `homecheck run --invite --yes` in the client's, the link's
rate and round trip set by the test. The server's own observations (its kernel's counts) are
checked against that known truth, and the report's figures against them (corroborated).

Needs root (CI runs as root: there a lab that cannot be built fails). SQLite only: PostgreSQL
listens on the host's loopback, which the server's namespace cannot reach, and what this test
shows (what the kernel counted) does not depend on the store (test_flow.py runs both)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from homecheck.hub import store
from homecheck.hub.models import Submission
from labs.network import Link, LinkSpec
from tests.homecheck.hub.conftest import homecheck

pytestmark = pytest.mark.root

Lab = Callable[[LinkSpec], Link]
DOWN_MBPS, UP_MBPS, RTT_MS = 20.0, 5.0, 40.0
WEB_PORT = 8766
# TCP goodput on a tbf-shaped Ethernet link: 1448 payload bytes per 1514-byte frame, 95.6 %.
GOODPUT = 1448 / 1514


def test_flow_on_a_lab_link_server_observations_match_the_link(
    lab: Lab, tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = lab(LinkSpec(down_mbps=DOWN_MBPS, up_mbps=UP_MBPS, rtt_ms=RTT_MS, queue_ms=20))
    db_path = tmp_path / "hub.sqlite3"
    shutil.copyfile(sqlite_template, db_path)
    db_url = f"sqlite:///{db_path}"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the signing key's folder
    link.serve(extra=["--db", db_url, "--web-port", str(WEB_PORT)])
    web_url = f"http://{link.server_addr}:{WEB_PORT}"
    made = homecheck(
        "admin", "invite", "--db", db_url, "--profile", "voice", "--candidate", "Ann Lee",
        "--base-url", web_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    report = tmp_path / "report.json"
    client = link.popen(
        "client",
        [sys.executable, "-m", "homecheck", "run", "--invite", made.stdout.strip(), "--yes",
         "--only", "network", "--dns-names", "localhost", "--quiet", "--json", str(report)],
    )  # fmt: skip
    _out, err = client.communicate(timeout=120)
    assert "receipt " in err, err
    data = json.loads(report.read_text(encoding="utf-8"))

    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            (stored,) = session.scalars(select(Submission))
            observed, corroborated = stored.observations, stored.corroborated
            disagreements = stored.disagreements
    finally:
        opened.close()
    figures = {m["metric"]: m["value"] for p in data["probes"] for m in p["measurements"]}
    print(f"server observed {observed}; the report says {figures.get('network.download_mbps')}"
          f" / {figures.get('network.upload_mbps')} Mbit/s, {figures.get('network.latency_ms')}"
          " ms")  # fmt: skip
    assert "tcpi_bytes_acked" in observed["method"] and "tcpi_min_rtt" in observed["method"]
    # What the server's kernel counted, against the link's set rates (its TCP goodput) and
    # round trip. The server's figure is a whole transfer's, ramp-up included.
    assert observed["download_mbps"] == pytest.approx(DOWN_MBPS * GOODPUT, rel=0.10)
    assert observed["upload_mbps"] == pytest.approx(UP_MBPS * GOODPUT, rel=0.10)
    assert observed["rtt_ms"] == pytest.approx(RTT_MS, abs=3.0)
    # The report's figures and the server's agree; the receipt carries the server's figures.
    assert corroborated is True, disagreements
    assert data["receipt"]["payload"]["observations"] == observed
    # `homecheck verify --server`, from the candidate's side of the link: exit 0.
    verify = link.popen(
        "client", [sys.executable, "-m", "homecheck", "verify", str(report), "--server", web_url]
    )
    out, err = verify.communicate(timeout=60)
    assert verify.returncode == 0, out + err
