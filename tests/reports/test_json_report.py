"""The JSON report: valid against the shipped schema, and a lossless round trip."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import jsonschema
import pytest

from homecheck.model import Cause, Measurement, ProbeResult, Report
from reports import json_report
from tests.support.canned import failed_probe_report


@pytest.mark.parametrize("interrupted", [False, True])
def test_failed_probe_report_validates(interrupted: bool) -> None:
    data = json.loads(json_report.render(failed_probe_report(interrupted=interrupted)))
    jsonschema.validate(data, json_report.schema(), format_checker=jsonschema.FormatChecker())
    assert data["schema_version"] == json_report.SCHEMA_VERSION
    assert data["interrupted"] is interrupted
    assert data["overall"]["verdict"] == "fail"


def test_every_canned_report_validates_and_round_trips(canned_report: Report) -> None:
    data = json_report.to_dict(canned_report)
    jsonschema.validate(data, json_report.schema(), format_checker=jsonschema.FormatChecker())
    assert json_report.loads(json_report.render(canned_report)) == canned_report


def test_schema_lists_every_cause() -> None:
    assert json_report.schema()["$defs"]["cause"]["enum"] == [c.value for c in Cause]


def test_causes_and_area_verdicts_are_written(failed_probe_report: Report) -> None:
    data = json_report.to_dict(failed_probe_report)
    assert data["areas"] == [
        {"area": "system", "title": "Computer", "verdict": "warn", "cause": "measured"},
        {"area": "network", "title": "Network", "verdict": "fail", "cause": "measured"},
        {
            "area": "audio",
            "title": "Microphone and room",
            "verdict": "not_measured",
            "cause": "probe_failed",
        },
    ]
    causes = {f["metric"]: f["cause"] for f in data["findings"]}
    assert causes["network.download_mbps"] == "measured"
    assert causes["network.upload_mbps"] == "probe_failed"


def test_a_version_1_report_is_read_with_causes_and_areas_from_the_aggregator(
    system_only_report: Report, interrupted_report: Report
) -> None:
    for report in (system_only_report, interrupted_report):
        data = json_report.to_dict(report)
        data["schema_version"] = 1
        del data["areas"]
        for finding in data["findings"]:
            del finding["cause"]
        for probe in data["probes"]:
            del probe["cause"]
            for unmeasured in probe["unmeasured"]:
                del unmeasured["cause"]
        loaded = json_report.from_dict(data)
        assert loaded.findings == tuple(
            # Version 1 did not record that a line was stopped: it reads as a probe failure.
            replace(f, cause=Cause.PROBE_FAILED) if f.cause is Cause.STOPPED else f
            for f in report.findings
        )
        assert [(a.area, a.verdict) for a in loaded.areas] == [
            (a.area, a.verdict) for a in report.areas
        ]
    assert system_only_report.area("network").cause is Cause.NOT_SELECTED  # type: ignore[union-attr]


def test_findings_carry_value_unit_and_limit_in_words(failed_probe_report: Report) -> None:
    data = json_report.to_dict(failed_probe_report)
    download = next(f for f in data["findings"] if f["metric"] == "network.download_mbps")
    assert download["measured"] == 42.5
    assert download["unit"] == "Mbit/s"
    assert download["required"] == "at least 10 Mbit/s (ideally 25+)"
    upload = next(f for f in data["findings"] if f["metric"] == "network.upload_mbps")
    assert upload["verdict"] == "not_measured"
    assert upload["reason"] == "the upload test timed out"


def test_non_finite_numbers_become_null(failed_probe_report: Report) -> None:
    report = failed_probe_report
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
        ('{"schema_version": 99}', "not a homecheck report with schema_version 1 or 2"),
        ('{"schema_version": true}', "not a homecheck report with schema_version 1 or 2"),
        ('{"schema_version": 1}', "damaged"),
        ('{"schema_version": 2}', "damaged"),
    ],
)
def test_loads_rejects_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        json_report.loads(text)
    assert "\n" not in str(caught.value)
