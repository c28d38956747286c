"""A candidate's page: /dashboard/candidates/{invite_id}.

What a recruiter sees of one invite: who, which profile, whether the invite is still open; the
latest run's verdict and the receipt's status (the stored receipt checked against the hub's
published keys, homecheck/hub/runs.py) with the server's corroboration in words; every run as a
point by hour of day (download, upload, loss, jitter, MOS, room noise; reports/history.py), each
chart followed by a table of the same numbers; the advice the candidate was given; the runs; and
a delete button (the candidates module's `delete_path`, a POST with the CSRF token, behind a
confirmation that needs no script: a <details> that opens the form).

The latest report is embedded as the HTML report renders it (reports/html.py), from its own route
(`/dashboard/candidates/{invite_id}/runs/{number}/report`) inside `<iframe sandbox>`: the report's
strings are the candidate's machine's (device and process names), untrusted; the frame has no
script, no same-origin access, and its response carries a CSP of its own (`default-src 'none'`,
`sandbox`), so even opened on its own it runs nothing and fetches nothing. Its verdicts are the
aggregator's on the invite's pinned profile (`runs.judged`), as stored at ingest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from homecheck.dashboard.candidates import delete_path
from homecheck.dashboard.web import PREFIX, Rejected, hub, render, signed_in
from homecheck.hub import runs
from homecheck.hub.runs import CandidateRuns, StoredRun
from homecheck.hub.service import Hub
from reports import charts, history
from reports.fixes import FixItem
from reports.vocabulary import area_title

CANDIDATE_PATH = PREFIX + "/candidates/{invite_id}"
REPORT_PATH = CANDIDATE_PATH + "/runs/{number:int}/report"

# The embedded report: its own inline CSS and SVG only (as the saved HTML report's meta CSP),
# framed only by the dashboard itself, and sandboxed even when opened on its own.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox"
)
REPORT_HEADERS = {
    "Content-Security-Policy": REPORT_CSP,
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


INVITE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
NO_SUCH_CANDIDATE = "There is no such candidate (the invite was deleted or never existed)."


def candidate_href(invite_id: str) -> str:
    return CANDIDATE_PATH.format(invite_id=invite_id)


def report_href(invite_id: str, number: int) -> str:
    return REPORT_PATH.replace("{number:int}", str(number)).format(invite_id=invite_id)


@dataclass(frozen=True)
class RunRow:
    number: int
    label: str
    started: str  # UTC, from the report; "" when it has none
    received: str  # UTC, the server's time
    overall: str  # Verdict value
    areas: tuple[tuple[str, str], ...]  # (area title, Verdict value)
    corroborated: bool | None
    receipt_valid: bool
    receipt_reason: str
    report_href: str | None


@dataclass(frozen=True)
class HourPanel:
    chart_id: str
    title: str
    svg: Markup | None  # None: no run measured this figure
    table: history.HourTable
    measured: int


@dataclass(frozen=True)
class CandidatePage:
    found: CandidateRuns
    rows: tuple[RunRow, ...]  # newest first, as a table of runs is read
    latest: StoredRun | None
    latest_report_href: str | None
    corroboration: str
    disagreements: tuple[str, ...]
    observed: tuple[str, ...]
    panels: tuple[HourPanel, ...]
    advice: tuple[FixItem, ...]
    delete_href: str


def page_of(found: CandidateRuns) -> CandidatePage:
    """Everything the template shows, from the store's runs (pure). Only the latest run is read
    as a whole report (its advice); the charts need the others' numbers only."""
    invite_id = found.invite.invite_id
    latest = found.latest
    latest_report = latest.report() if latest is not None else None
    figures = [
        history.RunFigures(run.label, run.started_at or run.received_at, run.figures())
        for run in found.runs
        if run.data is not None
    ]
    requirements = {r.metric: r for r in found.invite.profile.requirements}
    panels = tuple(
        _panel(index, hour_chart)
        for index, hour_chart in enumerate(history.charts_by_hour(figures, requirements))
    )
    return CandidatePage(
        found=found,
        rows=tuple(_row(invite_id, run) for run in reversed(found.runs)),
        latest=latest,
        latest_report_href=report_href(invite_id, latest.number)
        if latest is not None and latest_report is not None
        else None,
        corroboration=runs.corroboration_summary(latest.corroborated) if latest else "",
        disagreements=tuple(runs.disagreement_words(d) for d in latest.disagreements)
        if latest
        else (),
        observed=runs.observation_words(latest.observations) if latest else (),
        panels=panels,
        advice=tuple(runs.advice(latest_report)) if latest_report is not None else (),
        delete_href=delete_path(invite_id),
    )


def _panel(index: int, hour_chart: history.HourChart) -> HourPanel:
    chart_id = f"runs-chart-{index}"
    drawn = charts.svg(hour_chart.chart, chart_id) if charts.has_data(hour_chart.chart) else None
    return HourPanel(chart_id, hour_chart.chart.title, drawn, hour_chart.table, hour_chart.measured)


def _row(invite_id: str, run: StoredRun) -> RunRow:
    started = run.started_at
    return RunRow(
        number=run.number,
        label=run.label,
        started=started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if started else "",
        received=run.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        overall=run.overall.value,
        areas=tuple((area_title(area), verdict.value) for area, verdict in run.areas.items()),
        corroborated=run.corroborated,
        receipt_valid=run.receipt.valid,
        receipt_reason=run.receipt.reason,
        report_href=report_href(invite_id, run.number) if run.data is not None else None,
    )


def _load(store_hub: Hub, invite_id: str) -> CandidateRuns | None:
    with store_hub.store.sessions() as session:
        return runs.candidate_runs(session, invite_id)


def _invite_id(request: Request) -> str:
    invite_id = str(request.path_params["invite_id"])
    # Not a shape an invite id has (homecheck/hub/invites.py): no query at all, so a NUL byte
    # or an overlong id in the path never reaches the database (PostgreSQL refuses NUL in text).
    if not INVITE_ID.fullmatch(invite_id):
        raise Rejected(404, NO_SUCH_CANDIDATE)
    return invite_id


@signed_in()
async def candidate_page(request: Request) -> Response:
    found = await run_in_threadpool(_load, hub(request), _invite_id(request))
    if found is None:
        raise Rejected(404, NO_SUCH_CANDIDATE)
    page = await run_in_threadpool(page_of, found)
    return render(
        request,
        "candidate.html.j2",
        title=found.invite.candidate_name,
        page=page,
        invite=found.invite,
    )


def _report_html(store_hub: Hub, invite_id: str, number: int) -> str | None:
    from reports import html

    with store_hub.store.sessions() as session:
        found = runs.candidate_run(session, invite_id, number)
    if found is None:
        return None
    invite, run = found
    report = run.report()
    return None if report is None else html.render(runs.judged(report, invite.profile))


@signed_in()
async def run_report(request: Request) -> Response:
    invite_id, number = _invite_id(request), int(request.path_params["number"])
    page = await run_in_threadpool(_report_html, hub(request), invite_id, number)
    if page is None:
        raise Rejected(404, "This candidate has no such run, or its report cannot be read.")
    return HTMLResponse(page, headers=REPORT_HEADERS)


ROUTES: tuple[BaseRoute, ...] = (
    Route(CANDIDATE_PATH, candidate_page, methods=["GET"]),
    Route(REPORT_PATH, run_report, methods=["GET"]),
)
