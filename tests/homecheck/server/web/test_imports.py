"""The web plane's imports point one way: nothing of the measurement plane
(homecheck/server/*.py), and the parent's side (options, process) loads no web framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_architecture import GRAPH

ROOT = Path(__file__).resolve().parents[4]
WEB = "homecheck.server.web"


def test_the_web_plane_imports_nothing_of_the_measurement_plane() -> None:
    web_modules = [m for m in GRAPH if m == WEB or m.startswith(WEB + ".")]
    assert len(web_modules) >= 5
    crossing = sorted(
        f"{module} -> {target}"
        for module in web_modules
        for target in GRAPH[module]
        if target.startswith("homecheck.server") and not target.startswith(WEB)
    )
    assert crossing == []


def test_the_parent_side_loads_no_web_framework() -> None:
    code = (
        "import sys; from homecheck.server.web import WebOptions, WebPlane; "
        "print(sorted(m for m in ('starlette', 'hypercorn', 'uvicorn', 'h11', 'anyio') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
