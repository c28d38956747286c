"""Candidates with runs written straight into a hub's store, for the list's tests: invites made
as `homecheck admin invite` makes them (homecheck.hub.invites), each run a stored submission with
the given verdicts, and the invite's latest-run columns refreshed as ingest refreshes them
(homecheck.hub.latest_run). The verdicts are given, not judged: these tests are about listing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from homecheck.hub import invites, latest_run, store
from homecheck.hub.models import Submission, TestSession
from homecheck.hub.profile_store import store_profile


@dataclass(frozen=True)
class SeedRun:
    overall: str
    areas: dict[str, str]
    corroborated: bool | None = True
    at: datetime | None = None


@dataclass(frozen=True)
class Seed:
    name: str
    email: str | None = None
    profile: str = "voice"  # a built-in profile
    runs: tuple[SeedRun, ...] = ()
    invited_at: datetime | None = None


@dataclass
class Seeded:
    ids: dict[str, str] = field(default_factory=dict)  # candidate name -> invite id


def seed(db_url: str, candidates: list[Seed]) -> Seeded:
    opened = store.open_store(db_url)
    seeded = Seeded()
    try:
        with opened.sessions.begin() as session:
            for candidate in candidates:
                profile = store_profile(session, candidate.profile)
                new = invites.create_invite(
                    session, profile, candidate=candidate.name, email=candidate.email,
                    uses=max(3, len(candidate.runs)), expires_in=timedelta(days=7),
                    created_at=candidate.invited_at,
                )  # fmt: skip
                seeded.ids[candidate.name] = new.invite.id
                for run in candidate.runs:
                    test = TestSession(id=secrets.token_hex(16), invite_id=new.invite.id)
                    session.add(test)
                    session.flush()  # no relationship orders the inserts: the session first
                    body = secrets.token_bytes(16)
                    session.add(
                        Submission(
                            invite_id=new.invite.id, session_id=test.id, body=body,
                            report_sha256=hashlib.sha256(body).hexdigest(), report={},
                            overall=run.overall, areas=run.areas,
                            corroborated=run.corroborated, disagreements=[], observations={},
                            receipt={}, created_at=run.at or new.invite.created_at,
                        )
                    )  # fmt: skip
                    session.flush()
                latest_run.refresh(session, [new.invite.id])
    finally:
        opened.close()
    return seeded
