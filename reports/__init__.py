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


def render(
    report: Report,
    fmt: OutputFormat,
    *,
    color: bool = False,
    ascii_only: bool = False,
    brief: bool = False,
) -> str:
    """`color`, `ascii_only` and `brief` are the terminal's (reports/terminal.py); the files
    ignore them."""
    match fmt:
        case OutputFormat.TERMINAL:
            return terminal.render(report, color=color, ascii_only=ascii_only, brief=brief)
        case OutputFormat.JSON:
            return json_report.render(report)
        case OutputFormat.HTML:
            return html.render(report)
        case OutputFormat.MARKDOWN:
            return markdown.render(report)
        case _:
            assert_never(fmt)
