"""Reports of a candidate's runs at chosen hours with chosen figures, as a client submits them
(canonical JSON of the canned full report, tests/support/canned.py), and a helper that ingests
them through the hub's real ingest. For the candidate page's tests: a connection good at 10:00
and bad at 20:00."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from homecheck import aggregator, profiles
from homecheck.hub import ingest, receipts
from homecheck.hub.corroboration import ServerObservations
from homecheck.hub.service import Hub
from homecheck.model import ProbeResult, Report
from reports import json_report
from tests.support import canned


@dataclass(frozen=True)
class RunSpec:
    day: int  # of March 2025
    hour: int
    values: Mapping[str, float]  # metric id -> value, replacing the canned one


def report_at(spec: RunSpec, *, results: tuple[ProbeResult, ...] | None = None) -> Report:
    """The canned full report started at that hour with those figures, judged on voice."""
    started = datetime(2025, 3, spec.day, spec.hour, 0, 5, tzinfo=UTC)
    base = canned.full_report() if results is None else canned.make_report(results)
    changed = tuple(
        replace(
            result,
            measurements=tuple(
                replace(m, value=spec.values[m.metric]) if m.metric in spec.values else m
                for m in result.measurements
            ),
        )
        for result in base.results
    )
    judgement = aggregator.judge(profiles.load("voice"), changed)
    return replace(
        base,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=started.replace(second=50).isoformat(timespec="seconds"),
        results=changed,
        findings=judgement.findings,
        areas=judgement.areas,
        overall=judgement.overall,
    )


def body_of(report: Report) -> bytes:
    return receipts.canonical_json(json_report.to_dict(report))


def submit(
    hub: Hub, secret: bytes, report: Report, observations: ServerObservations
) -> receipts.Receipt:
    """One run through the real ingest: a test session opened for the invite, then the report."""
    session_id = ingest.open_session(hub.store, secret)
    return ingest.ingest(
        hub.store, hub.key, invite_secret=secret, session_id=session_id, body=body_of(report),
        observations=observations, client_address=None,
    )  # fmt: skip
