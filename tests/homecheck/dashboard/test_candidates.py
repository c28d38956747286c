"""The candidates list, its exports and deletion, over real HTTP against a real `homecheck serve
--db` (SQLite) holding seeded candidates (tests/support/hub_seed.py). Expected rows are computed
from the seed, never written out by hand."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from homecheck.hub import store
from homecheck.hub.models import AuditEntry, Invite, Submission, TestSession
from reports.vocabulary import area_title
from tests.homecheck.dashboard.conftest import RECRUITER, Dashboard, serve_dashboard
from tests.support.dashboard import Client
from tests.support.hub_seed import Seed, SeedRun, seed
from tests.support.serve import stop_serve

BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
VERDICTS = ("pass", "warn", "fail", "not_measured")
HOSTILE_NAME = '<script>alert("x")</script> O\'Brien \x07 & co'
HOSTILE_EMAIL = '=HYPERLINK("http://evil.example/","click")'
ROW = re.compile(r'<tr data-invite="([^"]+)">')


def _areas(verdict: str) -> dict[str, str]:
    return {"system": "pass", "network": verdict, "audio": "warn"}


SEEDS = [
    *(
        Seed(
            f"Bulk {i:02d}",
            email=f"bulk{i:02d}@example.org",
            runs=(SeedRun(VERDICTS[i % 4], _areas(VERDICTS[i % 4]), at=BASE + timedelta(hours=i)),),
            invited_at=BASE - timedelta(days=1) + timedelta(minutes=i),
        )
        for i in range(55)
    ),
    Seed(
        "Zoë Ångström",
        email="zoe@example.com",
        profile="chat",
        runs=(
            SeedRun("pass", _areas("pass"), at=BASE - timedelta(days=3)),
            SeedRun("fail", _areas("fail"), corroborated=False, at=BASE - timedelta(days=2)),
        ),
        invited_at=BASE - timedelta(days=4),
    ),
    Seed("Percent 100% Sure", runs=(SeedRun("warn", _areas("warn"), at=BASE),)),
    Seed("No Run Yet", email="norun@example.org"),
    Seed(HOSTILE_NAME, email=HOSTILE_EMAIL, runs=(SeedRun("pass", _areas("pass"), at=BASE),)),
]
BY_NAME = {s.name: s for s in SEEDS}


@dataclass
class Listed:
    dashboard: Dashboard
    ids: dict[str, str]  # name -> invite id
    client: Client

    def names(self, ids: list[str]) -> list[str]:
        back = {v: k for k, v in self.ids.items()}
        return [back[i] for i in ids]


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listed]:
    folder = tmp_path_factory.mktemp("candidates")
    dashboard = serve_dashboard(f"sqlite:///{folder / 'hub.sqlite3'}", folder)
    try:
        seeded = seed(dashboard.db_url, SEEDS)
        yield Listed(dashboard, seeded.ids, dashboard.signed_in())
    finally:
        stop_serve(dashboard.served)


def _list(listed: Listed, **params: str) -> tuple[list[str], str]:
    """Every row the list shows for these parameters, across its pages; and page 1's HTML."""
    ids: list[str] = []
    first = ""
    for page in range(1, 100):
        answer = listed.client.get("/dashboard/candidates?" + urlencode({**params, "page": page}))
        assert answer.status == 200, answer.text
        first = first or answer.text
        found = ROW.findall(answer.text)
        ids += found
        if 'rel="next"' not in answer.text:
            return ids, first
    raise AssertionError("no last page")


def _latest(seed_: Seed) -> SeedRun | None:
    return seed_.runs[-1] if seed_.runs else None


def test_pages_of_50_with_links_cover_every_candidate_once(listed: Listed) -> None:
    first = listed.client.get("/dashboard/candidates")
    rows = ROW.findall(first.text)
    assert len(rows) == 50
    assert f"{len(SEEDS)} candidates; page 1 of 2" in first.text
    assert 'href="?page=2"' in first.text and 'rel="next"' in first.text
    ids, _ = _list(listed)
    assert sorted(ids) == sorted(listed.ids.values())
    # The default order: newest invite first.
    invited = [BY_NAME[n].invited_at for n in listed.names(ids)]
    known = [at for at in invited if at is not None]
    assert known == sorted(known, reverse=True)


@pytest.mark.parametrize("verdict", [*VERDICTS, "none"])
def test_filter_by_verdict(listed: Listed, verdict: str) -> None:
    ids, _ = _list(listed, verdict=verdict)
    expected = {
        s.name
        for s in SEEDS
        if (_latest(s).overall if _latest(s) else "none") == verdict  # type: ignore[union-attr]
    }
    assert set(listed.names(ids)) == expected
    assert expected  # each verdict has candidates in the seed


def test_filter_by_profile_and_by_date_of_the_latest_run(listed: Listed) -> None:
    ids, _ = _list(listed, profile="chat")
    assert listed.names(ids) == ["Zoë Ångström"]
    day = BASE.date()
    ids, _ = _list(listed, **{"from": day.isoformat(), "to": day.isoformat()})
    expected = {s.name for s in SEEDS if s.runs and s.runs[-1].at and s.runs[-1].at.date() == day}
    assert set(listed.names(ids)) == expected
    assert 0 < len(expected) < len(SEEDS)


def test_search_by_name_or_email_any_case_and_literal(listed: Listed) -> None:
    assert set(listed.names(_list(listed, q="BULK 0")[0])) == {f"Bulk 0{i}" for i in range(10)}
    assert listed.names(_list(listed, q="zoe@EXAMPLE")[0]) == ["Zoë Ångström"]
    assert listed.names(_list(listed, q="zoë")[0]) == ["Zoë Ångström"]
    # % and _ are letters here, not wildcards.
    assert listed.names(_list(listed, q="%")[0]) == ["Percent 100% Sure"]
    assert _list(listed, q="_")[0] == []
    ids, page = _list(listed, q="nobody-has-this")
    assert ids == [] and "No candidate matches." in page
    # A page past the end of a search shows its last page.
    beyond = listed.client.get("/dashboard/candidates?q=bulk&page=99")
    assert "55 candidates; page 2 of 2" in beyond.text
    assert len(ROW.findall(beyond.text)) == 5


def test_sort_by_name_and_worst_verdict_first(listed: Listed) -> None:
    ids, _ = _list(listed, q="bulk", sort="name-desc")
    assert listed.names(ids) == [f"Bulk {i:02d}" for i in reversed(range(55))]
    ids, _ = _list(listed, sort="verdict-worst")
    order = {"fail": 0, "not_measured": 1, "warn": 2, "pass": 3, None: 4}
    ranks = [order[r.overall if (r := _latest(BY_NAME[n])) else None] for n in listed.names(ids)]
    assert ranks == sorted(ranks)


def test_a_row_shows_verdicts_as_words_and_icons_runs_and_the_server_mark(listed: Listed) -> None:
    _, page = _list(listed, q="zoë")
    row = page[
        page.index('<tr data-invite="') : page.index("</tr>", page.index('<tr data-invite="'))
    ]
    assert "Zoë Ångström" in row and "zoe@example.com" in row and "chat@1" in row
    assert 'class="verdict verdict-fail"' in row and "FAIL" in row
    assert 'aria-hidden="true">✘</span>' in row  # an icon beside the word
    for area, verdict in _areas("fail").items():
        assert f'{area_title(area)}: <span class="verdict verdict-{verdict}">' in row
        assert f"</span>{verdict.upper()}</span>" in row
    assert '<td class="number">2</td>' in row
    assert "Not corroborated" in row
    _, agreed = _list(listed, q="bulk 00")
    assert "Not corroborated" not in agreed and "Corroborated" in agreed


def test_candidate_text_is_shown_as_text(listed: Listed) -> None:
    _, page = _list(listed, q="O'Brien")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; O&#39;Brien \\x07 &amp; co" in page
    assert "\x07" not in page
    assert "=HYPERLINK(&#34;http://evil.example/&#34;,&#34;click&#34;)" in page


def _audit(db_url: str) -> list[tuple[str | None, str, str]]:
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            return [(r.user_email, r.action, r.detail) for r in rows]
    finally:
        opened.close()


def test_csv_export_is_the_list_as_filtered_with_formulas_neutralised(listed: Listed) -> None:
    answer = listed.client.get("/dashboard/candidates.csv?verdict=pass")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith('attachment; filename="candidates-')
    table = list(csv.DictReader(io.StringIO(answer.text)))
    listed_ids, _ = _list(listed, verdict="pass")
    assert [r["invite"] for r in table] == listed_ids
    hostile = next(r for r in table if r["invite"] == listed.ids[HOSTILE_NAME])
    assert hostile["email"] == "'" + HOSTILE_EMAIL
    assert hostile["candidate"] == HOSTILE_NAME  # the name is text already: it starts with <
    assert hostile["verdict"] == "PASS" and hostile["Network"] == "PASS"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in table for cell in r.values())
    passing = sum(1 for x in SEEDS if x.runs and x.runs[-1].overall == "pass")
    assert (RECRUITER[0], "export", f"CSV, {passing} candidates (verdict=pass)") in _audit(
        listed.dashboard.db_url
    )


def test_json_export_matches_the_list(listed: Listed) -> None:
    answer = listed.client.get("/dashboard/candidates.json?q=bulk&sort=name-asc")
    assert answer.status == 200
    data = json.loads(answer.body)["candidates"]
    assert [c["candidate"] for c in data] == [f"Bulk {i:02d}" for i in range(55)]
    assert data[2]["verdict"] == "fail" and data[2]["areas"]["network"] == "fail"
    assert data[2]["runs"] == 1 and data[2]["corroborated"] is True


def test_exports_and_delete_need_a_session(listed: Listed) -> None:
    anonymous = listed.dashboard.client()
    for path in ("/dashboard/candidates.csv", "/dashboard/candidates.json"):
        answer = anonymous.get(path)
        assert answer.status == 303 and answer.location.startswith("/dashboard/sign-in?next=")
    invite = listed.ids["Bulk 01"]
    answer = anonymous.post(f"/dashboard/candidates/{invite}/delete", {})
    assert answer.status == 303 and answer.location.startswith("/dashboard/sign-in?next=")
    assert _counts(listed.dashboard.db_url, invite) == (1, 1, 1)


def _counts(db_url: str, invite_id: str) -> tuple[int, int, int]:
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            return tuple(  # type: ignore[return-value]
                session.scalar(select(func.count()).select_from(t).where(column == invite_id)) or 0
                for t, column in (
                    (Invite, Invite.id),
                    (Submission, Submission.invite_id),
                    (TestSession, TestSession.invite_id),
                )
            )
    finally:
        opened.close()


def test_delete_removes_the_candidate_and_every_run(listed: Listed, tmp_path: Path) -> None:
    extra = seed(
        listed.dashboard.db_url,
        [Seed("Delete Me", runs=(SeedRun("pass", {}), SeedRun("fail", {})))],
    )
    invite = extra.ids["Delete Me"]
    assert _counts(listed.dashboard.db_url, invite) == (1, 2, 2)
    confirm = listed.client.get(f"/dashboard/candidates/{invite}/delete")
    assert confirm.status == 200 and "Delete Me and 2 runs" in confirm.text
    refused = listed.client.post(f"/dashboard/candidates/{invite}/delete", {"csrf_token": "no"})
    assert refused.status == 403
    assert _counts(listed.dashboard.db_url, invite) == (1, 2, 2)
    done = listed.client.post(
        f"/dashboard/candidates/{invite}/delete", {"csrf_token": confirm.csrf()}
    )
    assert done.status == 303 and done.location == "/dashboard/candidates"
    assert _counts(listed.dashboard.db_url, invite) == (0, 0, 0)
    page = listed.client.get("/dashboard/candidates?q=delete")
    assert "Deleted Delete Me and 2 runs." in page.text
    assert ROW.findall(page.text) == []
    assert "Deleted Delete Me" not in listed.client.get("/dashboard/candidates").text  # once
    assert any(
        action == "delete_candidate" and detail.startswith(f"Delete Me (invite {invite})")
        for _, action, detail in _audit(listed.dashboard.db_url)
    )
    gone = listed.client.get(f"/dashboard/candidates/{invite}/delete")
    assert gone.status == 404
