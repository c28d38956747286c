"""The "what to fix" list and the tally of lines by verdict, shared by the terminal, HTML and
Markdown reports. The words themselves (verdicts, values, titles) live in reports/vocabulary.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from homecheck.model import Finding, Level, Verdict
from reports.vocabulary import measured_text, required_text

# The order of the "what to fix" list: the lines that make a setup not ready come first.
_URGENCY = {Verdict.FAIL: 0, Verdict.NOT_MEASURED: 1, Verdict.WARN: 2, Verdict.PASS: 3}


@dataclass(frozen=True)
class FixItem:
    """One entry of "what to fix": several not-measured lines with the same reason share one."""

    verdict: Verdict
    labels: tuple[str, ...]
    measured: str
    required: str
    reason: str
    advice: str
    required_level: bool


def to_fix(findings: Iterable[Finding]) -> list[FixItem]:
    items: list[FixItem] = []
    grouped: dict[tuple[str, str], int] = {}
    for finding in sorted(findings, key=lambda f: _URGENCY[f.verdict]):
        if finding.verdict is Verdict.PASS:
            continue
        required_level = finding.requirement.level is Level.REQUIRED
        label = finding.requirement.label
        if finding.verdict is Verdict.NOT_MEASURED:
            key = (finding.reason, finding.advice)
            if key in grouped:
                old = items[grouped[key]]
                items[grouped[key]] = FixItem(
                    old.verdict,
                    (*old.labels, label),
                    old.measured,
                    old.required,
                    old.reason,
                    old.advice,
                    old.required_level or required_level,
                )
                continue
            grouped[key] = len(items)
        items.append(
            FixItem(
                verdict=finding.verdict,
                labels=(label,),
                measured=measured_text(finding),
                required=required_text(finding),
                reason=finding.reason,
                advice=finding.advice,
                required_level=required_level,
            )
        )
    return items


def counts(findings: Iterable[Finding]) -> list[tuple[Verdict, int]]:
    tally = dict.fromkeys(Verdict, 0)
    for finding in findings:
        tally[finding.verdict] += 1
    return [(verdict, tally[verdict]) for verdict in Verdict if tally[verdict]]
