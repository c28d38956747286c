"""The candidate list as files: CSV for a spreadsheet and JSON for a program, each the list as
filtered on the page (listing.all_rows).

Every CSV cell passes through `neutralise`, the one place that does it: a cell beginning with
= + - @ (or a tab or carriage return, which spreadsheets skip before reading a formula) gets a
leading apostrophe, so a candidate named `=HYPERLINK(...)` is text in Excel, LibreOffice and
Google Sheets, never a formula (OWASP, "CSV Injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime

from homecheck.dashboard.listing import Row
from homecheck.model import Verdict
from reports.vocabulary import AREA_ORDER, VERDICT_WORDS, area_title

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _word(verdict: str | None) -> str:
    return "" if verdict is None else VERDICT_WORDS[Verdict(verdict)]


def to_csv(rows: Iterable[Row]) -> str:
    rows = list(rows)
    areas = [a for a in AREA_ORDER if any(a in dict(r.areas) for r in rows)]
    areas += sorted({a for r in rows for a, _ in r.areas} - set(areas))
    header = [
        "invite",
        "candidate",
        "email",
        "profile",
        "verdict",
        *(area_title(a) for a in areas),
        "runs",
        "server corroborates",
        "latest run (UTC)",
        "invited (UTC)",
        "expires (UTC)",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        verdicts = dict(row.areas)
        cells = [
            row.invite_id,
            row.name,
            row.email or "",
            row.profile,
            _word(row.verdict),
            *(_word(verdicts.get(a)) for a in areas),
            str(row.runs),
            {True: "yes", False: "no", None: ""}[row.corroborated],
            _time(row.latest_at),
            _time(row.invited_at),
            _time(row.expires_at),
        ]
        writer.writerow([neutralise(c) for c in cells])
    return out.getvalue()


def _time(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def to_json(rows: Iterable[Row]) -> str:
    return json.dumps({"candidates": [r.to_json() for r in rows]}, ensure_ascii=False, indent=1)
