"""The invites' latest-run columns (models.Invite.runs_count, latest_*): a copy of each invite's
latest submission, so the dashboard lists 100,000 invites with one indexed query and no join or
GROUP BY over the submissions.

Kept current in the transaction that changes the runs: ingest calls `refresh` after storing a
submission (under the row lock on the invite that ingest's use-count update takes, so two
submissions for one invite are serialised), and retention calls it for the invites whose runs it
deleted. "Latest" is the highest submission id, as `homecheck admin candidates` counts it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from homecheck.hub.models import Invite, Submission


def refresh(session: Session, invite_ids: Iterable[str]) -> None:
    """Recompute the latest-run columns of these invites from their stored submissions."""
    for invite_id in sorted(set(invite_ids)):
        runs, latest_id = session.execute(
            select(func.count(), func.max(Submission.id)).where(Submission.invite_id == invite_id)
        ).one()
        latest = None if latest_id is None else session.get(Submission, latest_id)
        session.execute(
            update(Invite)
            .where(Invite.id == invite_id)
            .values(
                runs_count=runs,
                latest_submission_id=latest_id,
                latest_at=None if latest is None else latest.created_at,
                latest_overall=None if latest is None else latest.overall,
                latest_areas=None if latest is None else latest.areas,
                latest_corroborated=None if latest is None else latest.corroborated,
            )
            .execution_options(synchronize_session=False)
        )


def invites_with_runs(session: Session, where: ColumnElement[bool]) -> list[str]:
    """The invites having a submission that matches `where` (before deleting those runs)."""
    return list(session.scalars(select(Submission.invite_id).where(where).distinct()))
