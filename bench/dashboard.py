"""How fast is the dashboard's candidate list with 100,000 candidates? Page times over HTTP.

Run by hand from the repository root (not part of the test suite), alone on the machine:

    flock /tmp/hc-quiet.lock .venv/bin/python -m bench.dashboard              # both databases
    flock /tmp/hc-quiet.lock .venv/bin/python -m bench.dashboard --db sqlite --candidates 20000
    .venv/bin/python -m bench.dashboard --screenshot list.png       # the list with 30 candidates

For each database (a SQLite file; a throwaway PostgreSQL from labs/postgres.py), the store is
migrated and filled with `--candidates` invites, bulk-inserted (SQLAlchemy Core, executemany in
batches): names from a fixed list of first and last names, three profiles, one run each and a
second for every third, verdicts and area verdicts in a fixed mix, the invites' latest-run columns
as ingest keeps them. Then a real `homecheck serve --db` starts, a recruiter signs in over HTTP,
and each case's page (/dashboard/candidates?...) is fetched `--requests` times one after another
after a few warm-up requests: the whole request, as a browser waits for it (session check, one
count and one page query, the rendering). p50 and p95 per case; the target is p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from homecheck.hub import accounts, store
from homecheck.hub.accounts import Role
from homecheck.hub.models import Invite, Submission, TestSession
from homecheck.hub.profile_store import store_profile

TARGET_P95_MS = 300.0
BATCH = 5_000
EMAIL, PASSWORD = "bench@example.org", "bench password 1"
FIRST = ("Ann", "Bo", "Carla", "Dev", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi",
         "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq")  # fmt: skip
LAST = ("Lee", "Chen", "Garcia", "Okafor", "Novak", "Haddad", "Silva", "Kowalski", "Nguyen",
        "Smith", "Dubois", "Rossi", "Tanaka", "Yilmaz", "Andersen", "Murphy", "Costa",
        "Fischer", "Ivanova", "Mensah")  # fmt: skip
PROFILES = ("voice", "chat", "video")
# The latest verdicts' mix: most candidates pass or warn, some fail, a few are incomplete.
MIX = ("pass",) * 5 + ("warn",) * 3 + ("fail",) * 2 + ("not_measured",)
AREAS = ("system", "network", "audio")


@dataclass(frozen=True)
class Case:
    name: str
    query: str


def cases(total: int) -> list[Case]:
    late = max(1, -(-total // 50) - 1)
    return [
        Case("unfiltered, page 1", ""),
        Case("verdict = fail", "verdict=fail"),
        Case("profile = chat", "profile=chat"),
        Case("search name 'okafor'", "q=okafor"),
        Case("search e-mail 'tariq.mensah'", "q=tariq.mensah"),
        Case(f"late page ({late})", f"page={late}"),
        Case("sort by name", "sort=name-asc"),
        Case("verdict + latest run date", "verdict=warn&from=2026-06-01&to=2026-06-30"),
    ]


def _areas(i: int, overall: str) -> dict[str, str]:
    areas = {a: "pass" for a in AREAS}
    if overall != "pass":
        areas[AREAS[i % 3]] = overall
    return areas


def fill(db_url: str, total: int) -> float:
    """`total` invites with their runs; returns the seconds it took."""
    started = time.perf_counter()
    opened = store.open_store(db_url)
    try:
        with opened.sessions.begin() as session:
            accounts.create_user(session, EMAIL, PASSWORD, Role.RECRUITER)
            profile_ids = [store_profile(session, name).id for name in PROFILES]
        origin = datetime(2026, 1, 1, tzinfo=UTC)
        expires = origin + timedelta(days=400)
        submission_ids = itertools.count(1)  # given, so each invite's latest is known here
        for chunk in _chunks(range(total), BATCH):
            invites, sessions_, runs = [], [], []
            for i in chunk:
                first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
                invited = origin + timedelta(minutes=5 * i)
                count = 2 if i % 3 == 0 else 1
                overall = MIX[i % len(MIX)]
                latest_at = invited + timedelta(hours=count * 20)
                invite_id = f"inv-{i:012x}"
                for run in range(count):
                    session_id = hashlib.sha256(f"{i}/{run}".encode()).hexdigest()[:32]
                    sessions_.append({"id": session_id, "invite_id": invite_id,
                                      "created_at": invited, "observations": None})  # fmt: skip
                    verdict = overall if run == count - 1 else MIX[(i + 3) % len(MIX)]
                    body = f'{{"bench": {i}, "run": {run}}}'.encode()
                    latest_id = next(submission_ids)
                    runs.append(
                        {
                            "id": latest_id,
                            "invite_id": invite_id,
                            "session_id": session_id,
                            "body": body,
                            "report_sha256": hashlib.sha256(body).hexdigest(),
                            "report": {},
                            "overall": verdict,
                            "areas": _areas(i, verdict),
                            "corroborated": i % 17 != 0,
                            "disagreements": [],
                            "observations": {},
                            "receipt": {},
                            "client_ip": None,
                            "created_at": invited + timedelta(hours=(run + 1) * 20),
                        }
                    )
                invites.append(
                    {
                        "id": invite_id,
                        "secret_sha256": hashlib.sha256(invite_id.encode()).hexdigest(),
                        "candidate_name": f"{first} {last} {i}",
                        "candidate_email": f"{first}.{last}.{i}@example.org".lower(),
                        "profile_id": profile_ids[i % len(profile_ids)],
                        "uses_total": 3,
                        "uses_left": 3 - count,
                        "expires_at": expires,
                        "created_at": invited,
                        "runs_count": count,
                        "latest_submission_id": latest_id,
                        "latest_at": latest_at,
                        "latest_overall": overall,
                        "latest_areas": _areas(i, overall),
                        "latest_corroborated": i % 17 != 0,
                    }
                )
            with opened.engine.begin() as connection:
                connection.execute(insert(Invite), invites)
                connection.execute(insert(TestSession), sessions_)
                connection.execute(insert(Submission), runs)
        if opened.engine.dialect.name == "sqlite":
            with opened.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")  # the planner's statistics
        if opened.engine.dialect.name == "postgresql":
            with opened.engine.begin() as connection:  # the ids were given: move the sequence on
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('submissions', 'id'), max(id)) "
                    "FROM submissions"
                )
            # What autovacuum does after a bulk insert: statistics and the visibility map (so the
            # list's index-only scans need not visit the table).
            with opened.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
    finally:
        opened.close()
    return time.perf_counter() - started


def _chunks(items: range, size: int) -> Iterator[range]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def measure(web_url: str, case: Case, requests: int, warmup: int = 3) -> list[float]:
    from tests.support.dashboard import Client

    client = Client(web_url)
    answer = client.sign_in(EMAIL, PASSWORD)
    if answer.status != 303:
        raise SystemExit(f"bench: cannot sign in ({answer.status})")
    path = "/dashboard/candidates" + (f"?{case.query}" if case.query else "")
    times = []
    for attempt in range(warmup + requests):
        started = time.perf_counter()
        page = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if page.status != 200:
            raise SystemExit(f"bench: {path} answered {page.status}")
        if attempt >= warmup:
            times.append(elapsed)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def bench_one(kind: str, total: int, requests: int, folder: Path) -> list[str]:
    from labs.postgres import TempPostgres
    from tests.support.serve import start_serve, stop_serve

    pg = None
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'hub.sqlite3'}"
    else:
        pg = TempPostgres.start()
        url = pg.fresh_database()
    try:
        filled = fill(url, total)
        served = start_serve("--db", url, env={"XDG_DATA_HOME": str(folder / f"data-{kind}")})
        try:
            assert served.web_url is not None
            lines = [f"{kind}: {total:,} candidates filled in {filled:.1f} s"]
            lines.append(f"  {'case':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target")
            print("\n".join(lines), flush=True)
            for case in cases(total):
                times = measure(served.web_url, case, requests)
                worst = p95(times)
                verdict = "ok" if worst < TARGET_P95_MS else "OVER"
                lines.append(
                    f"  {case.name:<34} {statistics.median(times):8.1f} {worst:8.1f} "
                    f"{max(times):8.1f}  {verdict}"
                )
                print(lines[-1], flush=True)
            return lines
        finally:
            stop_serve(served)
    finally:
        if pg is not None:
            pg.stop()


def screenshot(path: Path) -> None:
    """The list with 30 candidates of mixed verdicts, as a recruiter sees it (1280 px wide)."""
    from tests.homecheck.dashboard.conftest import RECRUITER, add_users
    from tests.support.browser import start_chromium
    from tests.support.hub_seed import Seed, SeedRun, seed
    from tests.support.serve import start_serve, stop_serve

    with tempfile.TemporaryDirectory(prefix="homecheck-shot-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'hub.sqlite3'}"
        store.open_store(url).close()
        add_users(url)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        seeds = []
        for i in range(30):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            overall = MIX[(i * 5) % len(MIX)]
            runs = tuple(
                SeedRun(overall if r == i % 3 else MIX[(i + r) % len(MIX)],
                        _areas(i, overall if r == i % 3 else MIX[(i + r) % len(MIX)]),
                        corroborated=i % 11 != 4, at=now - timedelta(hours=i * 5 - r))
                for r in range(i % 3 + 1)
            ) if i % 9 != 8 else ()  # fmt: skip
            seeds.append(
                Seed(
                    f"{first} {last}",
                    email=f"{first}.{last}@example.org".lower(),
                    profile=PROFILES[i % 3],
                    runs=runs,
                    invited_at=now - timedelta(days=2, hours=i),
                )
            )
        seed(url, seeds)
        served = start_serve("--db", url, env={"XDG_DATA_HOME": str(folder / "data")})
        driver = start_chromium(folder / "chromium")
        try:
            from selenium.webdriver.common.by import By

            driver.set_window_size(1280, 900)
            driver.get(f"{served.web_url}/dashboard/sign-in")
            driver.find_element(By.ID, "email").send_keys(RECRUITER[0])
            driver.find_element(By.ID, "password").send_keys(RECRUITER[1])
            driver.find_element(By.CSS_SELECTOR, "form.stacked button").click()
            time.sleep(1)
            driver.get(f"{served.web_url}/dashboard/candidates")
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(int(height) + 40, 4000))
            driver.save_screenshot(str(path))
        finally:
            driver.quit()
            stop_serve(served)
    print(f"screenshot: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40, help="per case (default: 40)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="only take the screenshot")
    args = parser.parse_args(argv)
    if args.screenshot is not None:
        screenshot(args.screenshot)
        return 0
    if args.candidates < 100 or args.requests < 5:
        parser.error("at least 100 candidates and 5 requests per case")
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    print(f"bench.dashboard: list page over HTTP, {args.requests} requests per case, "
          f"target p95 < {TARGET_P95_MS:.0f} ms ({os.cpu_count()} CPUs)", flush=True)  # fmt: skip
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="homecheck-bench-") as tmp:
            bench_one(kind, args.candidates, args.requests, Path(tmp))
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
