"""The employer hub under load: 200 candidates submitting while 8 speed tests run, and the
candidate list with 100,000 stored reports. On SQLite and on PostgreSQL.

Run by hand from the repository root, as root (network namespaces), not part of the suite:

    flock /tmp/hc-quiet.lock .venv/bin/python -m bench.hub_load              # both, ~4 min
    .venv/bin/python -m bench.hub_load --db sqlite --fill-invites 2000       # smaller

The set-up, per database:
- a "server" network namespace holds `homecheck serve --db URL` (and, for PostgreSQL, a
  throwaway server started there, labs/postgres.py) and the simulated candidates;
- 8 "home" namespaces, each joined to the server by its own veth pair shaped to
  `--down`/`--up` Mbit/s (tc tbf, labs/network/netns.py): 8 candidates' lines, not one loopback
  the tests and the submitters share. Each home runs the real `homecheck run --server ... --only
  network` (the employer path: homecheck's own streams against that serve) and its JSON report
  gives the download and upload figures;
- the 8 tests run once alone ("solo"), then again while 200 simulated candidates submit: each
  candidate (a thread) opens a test session on the measurement plane with its invite's secret
  (POST /api/speed/session, Bearer), closes it, and POSTs a canned report (tests/support/canned.py,
  68 kB, each distinct) to the web plane's /api/submit; the 200 start together 3 s into the tests,
  when the downloads run;
- the candidates' threads and PostgreSQL run at niceness 10 (in life they are other machines;
  here they share the server's two cores), as does serve's web plane, which ingests
  (homecheck/server/web/child.py: the speed test gets the CPU first);
- printed: submissions/s (200 / the time from the first start to the last answer), the ingest
  latency (request sent to receipt read) p50/p95/max, refusals (must be 0), and each test's figures
  against its solo run (loaded / solo);
- then the database is filled to 100,000 stored reports (`--fill-invites` invites x `--runs`
  submissions each, with their test sessions: 20,000 x 5, as an employer of a few thousand hires
  a year keeps them for some years), inserted in bulk through the store's models; each stored
  report is the canned report without its sample series (~3 kB, twice: its bytes and its JSON),
  and `homecheck admin candidates --db URL` and `--json` are timed (wall time of the command,
  rows printed).

Prints one markdown table of it all.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PORT, WEB_PORT = 8765, 8766


@dataclass
class LoadResult:
    db: str
    submitted: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    solo: list[tuple[float, float]] = field(default_factory=list)  # per test: (down, up)
    loaded: list[tuple[float, float]] = field(default_factory=list)
    stored_reports: int = 0
    fill_s: float = 0.0
    list_s: float = 0.0
    list_rows: int = 0
    json_s: float = 0.0
    json_rows: int = 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_load", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--tests", type=int, default=8)
    parser.add_argument("--down", type=float, default=50.0, help="each home's download, Mbit/s")
    parser.add_argument("--up", type=float, default=10.0, help="each home's upload, Mbit/s")
    parser.add_argument("--fill-invites", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5, help="stored reports per filled invite")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench.hub_load needs root (network namespaces)", file=sys.stderr)
        return 2
    results = []
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        results.append(run_one(db, args))
    print(table(results, args))
    return 0


def run_one(db: str, args: argparse.Namespace) -> LoadResult:
    from labs.network import netns
    from labs.postgres import TempPostgres

    result = LoadResult(db)
    folder = Path(tempfile.mkdtemp(prefix="hub-load-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, True)
        server = netns.Netns("s")
        stack.callback(server.delete)
        homes = []
        for index in range(args.tests):
            home = netns.Netns(f"h{index}")
            stack.callback(home.delete)
            pair = netns.VethPair(home, server, subnet=index + 1)
            pair.shape(args.up, args.down, queue_ms=20)  # home -> server is the upload
            homes.append((home, pair.addr_b))
        # Everything of the server side runs in its namespace: this thread (and the threads it
        # starts: the candidates), the serve process, PostgreSQL.
        stack.enter_context(netns.entered(server.name))
        if db == "postgresql":
            # At niceness 10 as the candidates: a large employer's PostgreSQL is another machine.
            pg = TempPostgres.start(prefix=netns.in_ns(server.name, ["nice", "-n", "10"]))
            stack.callback(pg.stop)
            db_url = pg.fresh_database()
        else:
            db_url = f"sqlite:///{folder / 'hub.sqlite3'}"
        env = {"XDG_DATA_HOME": str(folder / "data")}
        log = (folder / "serve.log").open("w")
        stack.callback(log.close)
        serve = subprocess.Popen(
            netns.in_ns(server.name, [
                sys.executable, "-m", "homecheck", "serve", "--host", "0.0.0.0", "--port",
                str(PORT), "--web-port", str(WEB_PORT), "--db", db_url, "--max-tests",
                str(args.candidates + 20), "--max-tests-per-client", str(args.candidates + 20),
            ]),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, **env},
        )  # fmt: skip
        stack.callback(_stop, serve)
        assert serve.stdout is not None
        line = serve.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"serve did not start: {line} {(folder / 'serve.log').read_text()}")
        secrets_ = make_invites(db_url, args.candidates)
        result.solo = speed_tests(homes, folder / "solo")
        result.loaded = speed_tests(
            homes, folder / "loaded", during=lambda: submit_all(secrets_, result)
        )
        _stop(serve)
        log.flush()
        result.errors += [
            line.strip()[:200]
            for line in (folder / "serve.log").read_text(errors="replace").splitlines()
            if "failed" in line or "error" in line.lower()
        ]
        fill(db_url, args.fill_invites, args.runs, result)
        time_listing(server, db_url, result)
    return result


def make_invites(db_url: str, count: int) -> list[bytes]:
    from homecheck.hub import invites, store
    from homecheck.hub.profile_store import store_profile

    opened = store.open_store(db_url)
    made = []
    try:
        with opened.sessions.begin() as session:
            profile = store_profile(session, "voice")
            for index in range(count):
                new = invites.create_invite(
                    session, profile, candidate=f"Load Candidate {index}", email=None, uses=1,
                    expires_in=timedelta(days=7),
                )  # fmt: skip
                made.append(new.secret)
    finally:
        opened.close()
    return made


def speed_tests(
    homes: list[tuple[Any, str]], folder: Path, during: Any = None
) -> list[tuple[float, float]]:
    """The real `homecheck run --server` in every home at once; each one's (down, up) Mbit/s."""
    folder.mkdir(parents=True)
    runs = []
    for index, (home, address) in enumerate(homes):
        report = folder / f"test{index}.json"
        runs.append((report, home.popen(
            sys.executable, "-m", "homecheck", "run", "--server", f"http://{address}:{PORT}",
            "--only", "network", "--dns-names", "localhost", "--quiet", "--json", str(report),
        )))  # fmt: skip
    worker = None
    if during is not None:
        time.sleep(3.0)  # the tests' quiet phase is over: their downloads run
        worker = threading.Thread(target=during)
        worker.start()
    figures = []
    for report, proc in runs:
        _out, err = proc.communicate(timeout=180)
        data = json.loads(report.read_text(encoding="utf-8"))
        values = {m["metric"]: m["value"] for p in data["probes"] for m in p["measurements"]}
        if "network.download_mbps" not in values:
            raise SystemExit(f"a speed test measured nothing: {err[-500:]}")
        figures.append(
            (float(values["network.download_mbps"]), float(values["network.upload_mbps"]))
        )
    if worker is not None:
        worker.join()
    return figures


def submit_all(secrets_: list[bytes], result: LoadResult) -> None:
    """Every candidate at once, each in its own thread, as separate clients would."""
    from homecheck.hub import receipts
    from tests.homecheck.hub.conftest import report_body

    # The candidates are other machines in life: here they share the server's cores, so their
    # threads (started from this one, which they inherit it from) yield to the speed tests.
    os.nice(10)
    bodies = [report_body(1000 + index) for index in range(len(secrets_))]
    lock = threading.Lock()
    go = threading.Barrier(len(secrets_) + 1)

    def candidate(index: int) -> None:
        bearer = f"Bearer {receipts.b64(secrets_[index])}"
        go.wait()
        try:
            status, body = _call(PORT, "POST", "/api/speed/session", b'{"seconds": 30}', bearer)
            if status != 201:
                raise RuntimeError(f"session {status} {body[:100]!r}")
            answer = json.loads(body)
            _call(PORT, "DELETE", f"/api/speed/session/{answer['token']}")
            sent = time.perf_counter()
            status, body = _call(
                WEB_PORT, "POST", "/api/submit", bodies[index], bearer,
                {"X-Homecheck-Session": answer["hub_session"], "Content-Type": "application/json"},
            )  # fmt: skip
            took = (time.perf_counter() - sent) * 1000
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            with lock:
                result.errors.append(str(exc)[:200])
            return
        with lock:
            if status == 200:
                result.submitted += 1
                result.latencies_ms.append(took)
            else:
                result.refused += 1
                result.errors.append(f"{status} {body[:200]!r}")

    threads = [threading.Thread(target=candidate, args=(i,)) for i in range(len(secrets_))]
    for thread in threads:
        thread.start()
    go.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began


def _call(
    port: int, method: str, path: str, body: bytes | None = None, bearer: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = dict(headers or {})
    if bearer:
        sent["Authorization"] = bearer
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def compact_report() -> tuple[bytes, dict[str, Any]]:
    """The canned report without its sample series: a stored report of a network-only run."""
    from homecheck.hub import receipts
    from reports import json_report
    from tests.support import canned

    data = json_report.to_dict(canned.full_report())
    for probe in data["probes"]:
        probe["details"], probe["series"] = {}, []
        for measurement in probe["measurements"]:
            measurement.pop("samples", None)
    return receipts.canonical_json(data), data


def fill(db_url: str, invites_n: int, runs: int, result: LoadResult) -> None:
    """`invites_n` invites with `runs` stored submissions each, in bulk (Core inserts)."""
    from sqlalchemy import func, insert, select

    from homecheck.hub import store
    from homecheck.hub.models import Invite, StoredProfile, Submission, TestSession

    body, report = compact_report()
    started = time.perf_counter()
    opened = store.open_store(db_url)
    try:
        with opened.sessions.begin() as session:
            profile_id = session.scalar(select(StoredProfile.id).limit(1))
        base = datetime.now(UTC) - timedelta(days=300)
        batch = 2000
        for first in range(0, invites_n, batch):
            invites, tests, submissions = [], [], []
            for number in range(first, min(first + batch, invites_n)):
                invite_id = f"fill{number:08d}"
                created = base + timedelta(minutes=number)
                invites.append({
                    "id": invite_id, "secret_sha256": secrets.token_hex(32),
                    "candidate_name": f"Filled Candidate {number}", "candidate_email": None,
                    "profile_id": profile_id, "uses_total": runs, "uses_left": 0,
                    "expires_at": created + timedelta(days=7), "created_at": created,
                })  # fmt: skip
                for run in range(runs):
                    session_id = f"{invite_id}r{run}"
                    at = created + timedelta(hours=run + 1)
                    tests.append({"id": session_id, "invite_id": invite_id, "created_at": at,
                                  "observations": None})  # fmt: skip
                    submissions.append({
                        "invite_id": invite_id, "session_id": session_id, "body": body,
                        "report_sha256": secrets.token_hex(32), "report": report,
                        "overall": ("pass", "warn", "fail")[run % 3],
                        "areas": {"network": "pass", "system": "warn"},
                        "corroborated": run % 4 != 0, "disagreements": [],
                        "observations": {}, "receipt": {}, "client_ip": None, "created_at": at,
                    })  # fmt: skip
            with opened.sessions.begin() as session:
                session.execute(insert(Invite), invites)
                session.execute(insert(TestSession), tests)
                session.execute(insert(Submission), submissions)
        with opened.sessions() as session:
            result.stored_reports = int(
                session.scalar(select(func.count()).select_from(Submission)) or 0
            )
    finally:
        opened.close()
    result.fill_s = time.perf_counter() - started


def time_listing(server: Any, db_url: str, result: LoadResult) -> None:
    command = [sys.executable, "-m", "homecheck", "admin", "candidates", "--db", db_url]
    for json_out in (False, True):
        started = time.perf_counter()
        done = subprocess.run(
            [*command, *(["--json"] if json_out else [])], cwd=ROOT, capture_output=True,
            text=True, timeout=600, check=True,
        )  # fmt: skip
        took = time.perf_counter() - started
        if json_out:
            result.json_s, result.json_rows = took, len(json.loads(done.stdout))
        else:
            result.list_s, result.list_rows = took, len(done.stdout.splitlines()) - 1


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def table(results: list[LoadResult], args: argparse.Namespace) -> str:
    lines = [
        f"## bench.hub_load: {args.candidates} candidates submitting while {args.tests} speed "
        f"tests run (each home's line {args.down:g}/{args.up:g} Mbit/s, tc tbf on its own veth)",
        "",
        "| database | submissions/s | ingest p50 ms | p95 ms | max ms | stored | refused/errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.db} | {r.submitted / r.seconds if r.seconds else float('nan'):.1f} | "
            f"{_pct(r.latencies_ms, 0.5):.0f} | {_pct(r.latencies_ms, 0.95):.0f} | "
            f"{max(r.latencies_ms, default=float('nan')):.0f} | {r.submitted} | "
            f"{r.refused}/{len(r.errors) - r.refused} |"
        )
    lines += [
        "",
        "| database | test | solo down | loaded down | ratio | solo up | loaded up | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for index, ((sd, su), (ld, lu)) in enumerate(zip(r.solo, r.loaded, strict=True)):
            lines.append(
                f"| {r.db} | {index + 1} | {sd:.2f} | {ld:.2f} | {ld / sd:.3f} | {su:.2f} | "
                f"{lu:.2f} | {lu / su:.3f} |"
            )
        if r.solo:
            pairs = list(zip(r.solo, r.loaded, strict=True))
            down = statistics.mean(ld / sd for (sd, _), (ld, _) in pairs)
            up = statistics.mean(lu / su for (_, su), (_, lu) in pairs)
            lines.append(f"| {r.db} | mean | | | {down:.3f} | | | {up:.3f} |")
    lines += [
        "",
        "| database | stored reports | fill s | `admin candidates` s | rows | `--json` s | rows |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.db} | {r.stored_reports} | {r.fill_s:.0f} | {r.list_s:.2f} | {r.list_rows} | "
            f"{r.json_s:.2f} | {r.json_rows} |"
        )
    errors = [f"{r.db}: {e}" for r in results for e in r.errors[:5]]
    if errors:
        lines += ["", "First errors:", *errors]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
