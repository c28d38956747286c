"""The JSON report: valid against the shipped schema, and a lossless round trip."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import jsonschema
import pytest

from homecheck.model import Measurement, ProbeResult
from reports import json_report
from tests.reports.canned import canned_report


@pytest.mark.parametrize("interrupted", [False, True])
def test_canned_report_validates(interrupted: bool) -> None:
    data = json.loads(json_report.render(canned_report(interrupted=interrupted)))
    jsonschema.validate(data, json_report.schema(), format_checker=jsonschema.FormatChecker())
    assert data["schema_version"] == json_report.SCHEMA_VERSION
    assert data["interrupted"] is interrupted
    assert data["overall"]["verdict"] == "fail"


def test_round_trip_is_lossless() -> None:
    report = canned_report()
    again = json_report.loads(json_report.render(report))
    assert again == report


def test_findings_carry_value_unit_and_limit_in_words() -> None:
    data = json_report.to_dict(canned_report())
    download = next(f for f in data["findings"] if f["metric"] == "network.download_mbps")
    assert download["measured"] == 48.2
    assert download["unit"] == "Mbit/s"
    assert download["required"] == "at least 10 Mbit/s (ideally 25+)"
    upload = next(f for f in data["findings"] if f["metric"] == "network.upload_mbps")
    assert upload["verdict"] == "not_measured"
    assert upload["reason"] == "the upload test timed out"


def test_non_finite_numbers_become_null() -> None:
    report = canned_report()
    broken = ProbeResult(
        "system", (Measurement("system.ram_total_gb", math.nan, "GB", (math.inf,)),)
    )
    text = json_report.render(replace(report, results=(broken,)))
    data = json.loads(text)
    assert data["probes"][0]["measurements"][0]["value"] is None
    assert data["probes"][0]["measurements"][0]["samples"] == [None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[]", "not a homecheck report"),
        ('{"schema_version": 99}', "not a homecheck report with schema_version 1"),
        ('{"schema_version": 1}', "damaged"),
    ],
)
def test_loads_rejects_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        json_report.loads(text)
    assert "\n" not in str(caught.value)
