"""The candidate list, deleting a candidate, and retention (what `homecheck admin` and, later, the
dashboard show and do). Verdicts come from the stored submissions, which the aggregator judged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from homecheck.hub import latest_run
from homecheck.hub.models import Invite, StoredProfile, Submission, TestSession, now


@dataclass(frozen=True)
class Run:
    """One stored submission, as listed."""

    at: datetime
    overall: str
    areas: dict[str, str]
    corroborated: bool | None


@dataclass(frozen=True)
class CandidateRow:
    invite_id: str
    candidate_name: str
    candidate_email: str | None
    profile: str  # name@version
    uses_left: int
    expires_at: datetime
    runs: int
    latest: Run | None  # the verdict of this invite: its latest run

    def to_json(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "invite": self.invite_id,
            "candidate": self.candidate_name,
            "email": self.candidate_email,
            "profile": self.profile,
            "uses_left": self.uses_left,
            "expires_at": self.expires_at.isoformat(timespec="seconds"),
            "runs": self.runs,
            "latest": None
            if latest is None
            else {
                "at": latest.at.isoformat(timespec="seconds"),
                "verdict": latest.overall,
                "areas": latest.areas,
                "corroborated": latest.corroborated,
            },
        }


def list_candidates(session: Session) -> list[CandidateRow]:
    """Every invite, newest first, with its number of runs and its latest run (one query)."""
    counts = (
        select(
            Submission.invite_id,
            func.count().label("runs"),
            func.max(Submission.id).label("latest_id"),
        )
        .group_by(Submission.invite_id)
        .subquery()
    )
    # Only the columns listed: a stored submission also holds the report twice (its bytes and
    # its parsed JSON, tens of kB), which a list of every candidate must not read.
    query = (
        select(
            Invite.id, Invite.candidate_name, Invite.candidate_email, Invite.uses_left,
            Invite.expires_at, StoredProfile.name, StoredProfile.version, counts.c.runs,
            Submission.id, Submission.created_at, Submission.overall, Submission.areas,
            Submission.corroborated,
        )
        .join(StoredProfile, StoredProfile.id == Invite.profile_id)
        .outerjoin(counts, counts.c.invite_id == Invite.id)
        .outerjoin(Submission, Submission.id == counts.c.latest_id)
        .order_by(Invite.created_at.desc(), Invite.id)
    )  # fmt: skip
    rows = []
    for (
        invite_id, name, email, uses_left, expires_at, profile_name, version, runs,
        latest_id, at, overall, areas, corroborated,
    ) in session.execute(query):  # fmt: skip
        rows.append(
            CandidateRow(
                invite_id=invite_id,
                candidate_name=name,
                candidate_email=email,
                profile=f"{profile_name}@{version}",
                uses_left=uses_left,
                expires_at=expires_at,
                runs=runs or 0,
                latest=None if latest_id is None else Run(at, overall, areas, corroborated),
            )
        )
    return rows


def delete_candidate(session: Session, who: str) -> int:
    """Delete every invite whose id or candidate name is `who`, with its test sessions and
    submissions. Returns the number of invites deleted."""
    ids = list(
        session.scalars(
            select(Invite.id).where(or_(Invite.id == who, Invite.candidate_name == who))
        )
    )
    if ids:
        # Explicit deletes, children first: the same on SQLite and PostgreSQL whatever the
        # foreign-key cascade settings of a connection.
        session.execute(delete(Submission).where(Submission.invite_id.in_(ids)))
        session.execute(delete(TestSession).where(TestSession.invite_id.in_(ids)))
        session.execute(delete(Invite).where(Invite.id.in_(ids)))
    return len(ids)


def prune(session: Session, older_than_days: int, *, at: datetime | None = None) -> int:
    """Delete the submissions older than that many days. Returns how many were deleted."""
    cutoff = (at or now()) - timedelta(days=older_than_days)
    touched = latest_run.invites_with_runs(session, Submission.created_at < cutoff)
    result = session.execute(delete(Submission).where(Submission.created_at < cutoff))
    latest_run.refresh(session, touched)
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_invite(session: Session, invite_id: str) -> int | None:
    """Delete one invite by its id, with its test sessions and submissions (the dashboard's
    delete: by id only, never by a name another candidate may share). Returns the number of runs
    deleted, None if there is no such invite."""
    if session.get(Invite, invite_id) is None:
        return None
    runs = session.execute(delete(Submission).where(Submission.invite_id == invite_id))
    session.execute(delete(TestSession).where(TestSession.invite_id == invite_id))
    session.execute(delete(Invite).where(Invite.id == invite_id))
    return int(runs.rowcount)  # type: ignore[attr-defined]
