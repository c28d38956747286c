"""The candidate list as the dashboard shows and exports it (no HTTP): one row per invite, read
from the invites' latest-run columns (homecheck.hub.latest_run), so a page is one indexed query
plus a count, whatever the number of runs stored.

A `ListQuery` is what the list's form says (filters, search, sort, page); `parse` reads it from
a query string and ignores what it does not understand (a hand-edited link shows the whole
list rather than an error).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from homecheck.hub.models import Invite, StoredProfile
from homecheck.model import Verdict
from reports.vocabulary import AREA_ORDER

PAGE_SIZE = 50
NO_RUN = "none"  # the verdict filter's value for invites without a run yet
MAX_SEARCH_CHARS = 200


class Sort(enum.Enum):
    INVITED_NEWEST = "invited-desc"
    INVITED_OLDEST = "invited-asc"
    RUN_NEWEST = "run-desc"
    RUN_OLDEST = "run-asc"
    NAME_AZ = "name-asc"
    NAME_ZA = "name-desc"
    WORST_FIRST = "verdict-worst"


SORT_LABELS = {
    Sort.INVITED_NEWEST: "Invited, newest first",
    Sort.INVITED_OLDEST: "Invited, oldest first",
    Sort.RUN_NEWEST: "Latest run, newest first",
    Sort.RUN_OLDEST: "Latest run, oldest first",
    Sort.NAME_AZ: "Name, A to Z",
    Sort.NAME_ZA: "Name, Z to A",
    Sort.WORST_FIRST: "Verdict, worst first",
}
# Worst first: what a recruiter acts on. No run yet comes last.
_SEVERITY = {
    Verdict.FAIL.value: 0,
    Verdict.NOT_MEASURED.value: 1,
    Verdict.WARN.value: 2,
    Verdict.PASS.value: 3,
}


@dataclass(frozen=True)
class ListQuery:
    verdict: str = ""  # a Verdict value, NO_RUN, or "" for any
    profile: str = ""  # a profile name (any version), or "" for any
    ran_from: date | None = None  # the latest run's day (UTC), inclusive
    ran_to: date | None = None
    search: str = ""  # in the name or the e-mail address, any case
    sort: Sort = Sort.INVITED_NEWEST
    page: int = 1

    def params(self, **changes: Any) -> str:
        """This query as a query string, with `changes` (page=2, sort=...): the pages' links."""
        query = replace(self, **changes)
        pairs = {
            "verdict": query.verdict,
            "profile": query.profile,
            "from": query.ran_from.isoformat() if query.ran_from else "",
            "to": query.ran_to.isoformat() if query.ran_to else "",
            "q": query.search,
            "sort": "" if query.sort is Sort.INVITED_NEWEST else query.sort.value,
            "page": "" if query.page == 1 else str(query.page),
        }
        return urlencode({k: v for k, v in pairs.items() if v})

    def describe(self) -> str:
        """The filters in words, for the audit log."""
        return self.params(page=1, sort=Sort.INVITED_NEWEST) or "no filter"


def parse(params: Mapping[str, str]) -> ListQuery:
    verdict = params.get("verdict", "")
    if verdict not in {*(v.value for v in Verdict), NO_RUN}:
        verdict = ""
    try:
        sort = Sort(params.get("sort", Sort.INVITED_NEWEST.value))
    except ValueError:
        sort = Sort.INVITED_NEWEST
    try:
        page = max(1, min(int(params.get("page", "1")), 10**7))
    except ValueError:
        page = 1
    return ListQuery(
        verdict=verdict,
        # NUL removed: PostgreSQL refuses it in any text parameter (a 500 the fuzz found).
        profile=params.get("profile", "").replace("\x00", "")[:200],
        ran_from=_day(params.get("from", "")),
        ran_to=_day(params.get("to", "")),
        search=" ".join(params.get("q", "").replace("\x00", "").split())[:MAX_SEARCH_CHARS],
        sort=sort,
        page=page,
    )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Row:
    invite_id: str
    name: str
    email: str | None
    profile: str  # name@version
    verdict: str | None  # the latest run's overall Verdict value; None: no run yet
    areas: tuple[tuple[str, str], ...]  # (area, Verdict value), in the reports' area order
    runs: int
    corroborated: bool | None  # the latest run's: False when the server's figures disagree
    latest_at: datetime | None
    invited_at: datetime
    expires_at: datetime
    uses_left: int

    def to_json(self) -> dict[str, Any]:
        return {
            "invite": self.invite_id,
            "candidate": self.name,
            "email": self.email,
            "profile": self.profile,
            "verdict": self.verdict,
            "areas": dict(self.areas),
            "runs": self.runs,
            "corroborated": self.corroborated,
            "latest_run_at": _iso(self.latest_at),
            "invited_at": _iso(self.invited_at),
            "expires_at": _iso(self.expires_at),
            "uses_left": self.uses_left,
        }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


@dataclass(frozen=True)
class ListPage:
    rows: list[Row]
    total: int
    page: int
    pages: int
    query: ListQuery


def _where(session: Session, query: ListQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.verdict == NO_RUN:
        where.append(Invite.latest_overall.is_(None))
    elif query.verdict:
        where.append(Invite.latest_overall == query.verdict)
    if query.profile:
        # The profile's ids first: then the filter is an index range on (profile_id, created_at).
        ids = list(
            session.scalars(select(StoredProfile.id).where(StoredProfile.name == query.profile))
        )
        where.append(Invite.profile_id.in_(ids))
    if query.ran_from is not None:
        where.append(Invite.latest_at >= datetime.combine(query.ran_from, time(), UTC))
    if query.ran_to is not None:
        end = datetime.combine(query.ran_to, time(), UTC) + timedelta(days=1)
        where.append(Invite.latest_at < end)
    if query.search:
        where.append(
            or_(*(_has(session, column, query.search) for column in _SEARCHED)),
        )
    return where


_SEARCHED = (Invite.candidate_name, Invite.candidate_email)


def _has(session: Session, column: Any, text: str) -> ColumnElement[bool]:
    """`text` anywhere in `column`, in any case; % and _ are letters. SQLite's LIKE already
    ignores ASCII case (and lower() folds no more than that there): without lower() a search of
    100,000 rows takes a third of the time. On PostgreSQL lower() LIKE took 40 % of ILIKE's."""
    if session.get_bind().dialect.name == "sqlite":
        return column.contains(text, autoescape=True)  # type: ignore[no-any-return]
    return func.lower(column).contains(text.lower(), autoescape=True)


def _ordered(statement: Select[Any], sort: Sort) -> Select[Any]:
    match sort:
        case Sort.INVITED_NEWEST:
            return statement.order_by(Invite.created_at.desc(), Invite.id.desc())
        case Sort.INVITED_OLDEST:
            return statement.order_by(Invite.created_at, Invite.id)
        case Sort.RUN_NEWEST:
            return statement.order_by(Invite.latest_at.desc().nulls_last(), Invite.id.desc())
        case Sort.RUN_OLDEST:
            return statement.order_by(Invite.latest_at.nulls_last(), Invite.id)
        case Sort.NAME_AZ:
            return statement.order_by(Invite.candidate_name, Invite.id)
        case Sort.NAME_ZA:
            return statement.order_by(Invite.candidate_name.desc(), Invite.id.desc())
        case Sort.WORST_FIRST:
            severity = case(_SEVERITY, value=Invite.latest_overall, else_=len(_SEVERITY))
            return statement.order_by(severity, Invite.created_at.desc(), Invite.id.desc())


def _rows(session: Session, statement: Select[Any]) -> Iterator[Row]:
    profiles = {p.id: f"{p.name}@{p.version}" for p in session.scalars(select(StoredProfile))}
    for invite in session.scalars(statement):
        yield _row(invite, profiles.get(invite.profile_id, "?"))


def _row(invite: Invite, profile: str) -> Row:
    areas = invite.latest_areas or {}
    ordered = [a for a in AREA_ORDER if a in areas] + sorted(
        a for a in areas if a not in AREA_ORDER
    )
    return Row(
        invite_id=invite.id,
        name=invite.candidate_name,
        email=invite.candidate_email,
        profile=profile,
        verdict=invite.latest_overall,
        areas=tuple((a, areas[a]) for a in ordered),
        runs=invite.runs_count,
        corroborated=invite.latest_corroborated,
        latest_at=invite.latest_at,
        invited_at=invite.created_at,
        expires_at=invite.expires_at,
        uses_left=invite.uses_left,
    )


def list_page(session: Session, query: ListQuery) -> ListPage:
    where = _where(session, query)
    if query.search:
        # A search reads every row whatever the index: count them in the same pass (a window
        # count over the matches) instead of a second scan for the total.
        counted = _page_ids(where, query, query.page, with_total=True)
        found = session.execute(counted).all()
        if found or query.page == 1:
            total = int(found[0].total) if found else 0
            pages = max(1, -(-total // PAGE_SIZE))
            return _page(session, query, [row.id for row in found], total, query.page, pages)
    total = session.scalar(select(func.count()).select_from(Invite).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(query.page, pages)
    # A deferred join: the page's ids from an index alone (models.py), then those rows.
    ids = _page_ids(where, query, page, with_total=False)
    rows = list(_rows(session, _ordered(select(Invite).where(Invite.id.in_(ids)), query.sort)))
    return ListPage(rows, total, page, pages, replace(query, page=page))


def _page_ids(
    where: list[ColumnElement[bool]], query: ListQuery, page: int, *, with_total: bool
) -> Select[Any]:
    columns = (Invite.id, func.count().over().label("total")) if with_total else (Invite.id,)
    ids = _ordered(select(*columns).where(*where), query.sort)
    return ids.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)


def _page(
    session: Session, query: ListQuery, ids: list[str], total: int, page: int, pages: int
) -> ListPage:
    rows = list(_rows(session, _ordered(select(Invite).where(Invite.id.in_(ids)), query.sort)))
    return ListPage(rows, total, page, pages, replace(query, page=page))


def all_rows(session: Session, query: ListQuery) -> list[Row]:
    """Every row the query matches, in its order (the export: the list as filtered)."""
    return list(_rows(session, _ordered(select(Invite).where(*_where(session, query)), query.sort)))


def profile_names(session: Session) -> list[str]:
    return list(session.scalars(select(StoredProfile.name).distinct().order_by(StoredProfile.name)))
