"""Renderers: a finished Report in, text out. Only the CLI writes files and prints."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

from homecheck.model import Report
from reports import html, json_report, markdown, terminal


class OutputFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    HTML = "html"
    MARKDOWN = "markdown"


def render(report: Report, fmt: OutputFormat, *, color: bool = False) -> str:
    match fmt:
        case OutputFormat.TERMINAL:
            return terminal.render(report, color=color)
        case OutputFormat.JSON:
            return json_report.render(report)
        case OutputFormat.HTML:
            return html.render(report)
        case OutputFormat.MARKDOWN:
            return markdown.render(report)
        case _:
            assert_never(fmt)
