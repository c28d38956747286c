"""The public speed test that measured, and why another was not used, in every renderer (network
details `public_service` and `public_not_used`, written by probes/network/public/choose.py)."""

from __future__ import annotations

from dataclasses import replace
from html import unescape

import jsonschema
import pytest

from homecheck.model import JSON, Report
from reports import OutputFormat, json_report, render
from tests.support import canned

REFUSED = "speedtest.net refused the test (HTTP 403: it blocks the test tool at times)"


def with_network_details(report: Report, **details: JSON) -> Report:
    results = tuple(
        replace(r, details={**r.details, **details}) if r.probe == "network" else r
        for r in report.results
    )
    return replace(report, results=results)


@pytest.mark.parametrize("fmt", [OutputFormat.TERMINAL, OutputFormat.MARKDOWN, OutputFormat.HTML])
def test_each_renderer_names_the_service_and_why_the_first_was_not_used(fmt: OutputFormat) -> None:
    report = with_network_details(
        canned.full_report(),
        public_service="Cloudflare",
        public_not_used=[{"service": "speedtest.net", "reason": REFUSED}],
    )
    text = " ".join(unescape(render(report, fmt)).split())  # tables and markup wrap lines
    assert f"Network measured by Cloudflare (speedtest.net was not used: {REFUSED})." in text


@pytest.mark.parametrize("fmt", [OutputFormat.TERMINAL, OutputFormat.MARKDOWN, OutputFormat.HTML])
def test_every_service_failing_is_said_once_per_service(fmt: OutputFormat) -> None:
    report = with_network_details(
        canned.full_report(),
        public_not_used=[
            {"service": "speedtest.net", "reason": REFUSED},
            {"service": "Cloudflare", "reason": "speed.cloudflare.com did not answer in time"},
        ],
    )
    text = " ".join(unescape(render(report, fmt)).split())
    assert (
        "No public speed test measured the network (speedtest.net was not used: "
        f"{REFUSED}; Cloudflare was not used: speed.cloudflare.com did not answer in time)."
    ) in text


def test_an_employer_server_run_has_no_public_service_line() -> None:
    for fmt in (OutputFormat.TERMINAL, OutputFormat.MARKDOWN, OutputFormat.HTML):
        assert "Network measured by" not in render(canned.full_report(), fmt)


def test_the_schema_describes_the_details_and_they_round_trip() -> None:
    report = with_network_details(
        canned.full_report(),
        public_service="Cloudflare",
        public_not_used=[{"service": "speedtest.net", "reason": REFUSED}],
    )
    data = json_report.to_dict(report)
    jsonschema.validate(data, json_report.schema())
    network = next(p for p in data["probes"] if p["name"] == "network")
    assert network["details"]["public_not_used"] == [
        {"service": "speedtest.net", "reason": REFUSED}
    ]
    assert json_report.loads(json_report.render(report)) == report
    network["details"]["public_not_used"] = [{"service": "speedtest.net"}]  # no reason
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_report.schema())
