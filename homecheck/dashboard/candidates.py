"""The candidates list (the dashboard's landing page), its exports, and deleting a candidate.

- GET /dashboard/candidates: one row per invite, filtered, searched, sorted, PAGE_SIZE a page
  (listing.py); links only, so it works without JavaScript and from the keyboard.
- GET /dashboard/candidates.csv and .json: the list as filtered (every page), audited.
- GET /dashboard/candidates/{invite}/delete: the confirmation; POST: delete the invite with
  every run and test session, audited. The candidate's own page puts a button to it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from homecheck.dashboard import export, listing
from homecheck.dashboard.web import (
    HOME_PATH,
    PREFIX,
    Audit,
    Rejected,
    audit,
    flash,
    form,
    hub,
    render,
    security_headers,
    see_other,
    signed_in,
)
from homecheck.hub import candidates as hub_candidates
from homecheck.hub.models import Invite
from homecheck.model import Verdict
from reports.vocabulary import VERDICT_WORDS

PATH = HOME_PATH
CSV_PATH = f"{PREFIX}/candidates.csv"
JSON_PATH = f"{PREFIX}/candidates.json"


def candidate_path(invite_id: str) -> str:
    return f"{PATH}/{invite_id}"


def delete_path(invite_id: str) -> str:
    return f"{PATH}/{invite_id}/delete"


@signed_in()
async def list_page(request: Request) -> Response:
    query = listing.parse(request.query_params)

    def read() -> tuple[listing.ListPage, list[str]]:
        with hub(request).store.sessions() as session:
            return listing.list_page(session, query), listing.profile_names(session)

    found, profiles = await run_in_threadpool(read)
    return render(
        request,
        "candidates.html.j2",
        title="Candidates",
        found=found,
        query=found.query,
        profiles=profiles,
        verdicts=[(v.value, VERDICT_WORDS[v]) for v in Verdict] + [(listing.NO_RUN, "NO RUN YET")],
        sorts=list(listing.SORT_LABELS.items()),
        Sort=listing.Sort,
        page_links=_page_links(found.page, found.pages),
        candidate_path=candidate_path,
    )


def _page_links(page: int, pages: int) -> list[int | None]:
    """The page numbers to link: the first, the last, and two around this one (None: a gap)."""
    wanted = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links: list[int | None] = []
    for number in wanted:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


async def _export(request: Request, kind: str) -> Response:
    query = listing.parse(request.query_params)

    def read() -> str:
        with hub(request).store.sessions.begin() as session:
            rows = listing.all_rows(session, query)
            audit(
                session,
                request,
                Audit.EXPORT,
                f"{kind.upper()}, {len(rows)} candidates ({query.describe()})",
            )
            return export.to_csv(rows) if kind == "csv" else export.to_json(rows)

    body = await run_in_threadpool(read)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
    return Response(
        body.encode("utf-8"),
        media_type=media,
        headers={
            **security_headers(),
            "Content-Disposition": f'attachment; filename="candidates-{stamp}.{kind}"',
        },
    )


@signed_in()
async def export_csv(request: Request) -> Response:
    return await _export(request, "csv")


@signed_in()
async def export_json(request: Request) -> Response:
    return await _export(request, "json")


def _invite_or_404(request: Request, invite_id: str) -> tuple[str, int]:
    with hub(request).store.sessions() as session:
        invite = session.get(Invite, invite_id)
        if invite is None:
            raise Rejected(404, "No such candidate (already deleted?).")
        return invite.candidate_name, invite.runs_count


@signed_in()
async def confirm_delete(request: Request) -> Response:
    invite_id = request.path_params["invite"]
    name, runs = await run_in_threadpool(_invite_or_404, request, invite_id)
    return render(
        request,
        "delete.html.j2",
        title=f"Delete {name}",
        name=name,
        runs=runs,
        invite_id=invite_id,
        action=delete_path(invite_id),
        back=candidate_path(invite_id),
    )


@signed_in()
async def delete(request: Request) -> Response:
    await form(request)
    invite_id = request.path_params["invite"]

    def remove() -> tuple[str, int]:
        with hub(request).store.sessions.begin() as session:
            invite = session.get(Invite, invite_id)
            if invite is None:
                raise Rejected(404, "No such candidate (already deleted?).")
            name = invite.candidate_name
            runs = hub_candidates.delete_invite(session, invite_id) or 0
            audit(
                session,
                request,
                Audit.DELETE_CANDIDATE,
                f"{name} (invite {invite_id}) and {runs} run{'s' if runs != 1 else ''}",
            )
            return name, runs

    name, runs = await run_in_threadpool(remove)
    await flash(request, f"Deleted {name} and {runs} run{'s' if runs != 1 else ''}.")
    return see_other(PATH)


ROUTES: tuple[BaseRoute, ...] = (
    Route(PATH, list_page, methods=["GET"]),
    Route(CSV_PATH, export_csv, methods=["GET"]),
    Route(JSON_PATH, export_json, methods=["GET"]),
    Route(PATH + "/{invite}/delete", confirm_delete, methods=["GET"]),
    Route(PATH + "/{invite}/delete", delete, methods=["POST"]),
)
