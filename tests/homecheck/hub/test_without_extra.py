"""On the candidate's plain install (no `serve` extra): `homecheck verify` works, `homecheck
admin` says in one line what to install, and `run`'s import of the CLI loads none of the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from homecheck.hub import ingest, keys, receipts, service
from tests.homecheck.hub.conftest import AGREEING, ROOT, invite, report_body

SERVER_STACK = {"starlette", "hypercorn", "sqlalchemy", "alembic", "psycopg",
                "argon2", "jsonschema", "mako"}  # fmt: skip
WITHOUT_EXTRA = f"""
import importlib.abc, sys
class NoServerStack(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_STACK!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, NoServerStack())
from homecheck.cli import main
"""


def _plain(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA + code],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_verify_runs_without_the_extra(tmp_path: Path) -> None:
    hub = service.start(f"sqlite:///{tmp_path / 'hub.sqlite3'}", key_dir=tmp_path / "data")
    try:
        invited = invite(hub)
        body = report_body()
        receipt = ingest.ingest(
            hub.store, hub.key, invite_secret=invited.secret,
            session_id=ingest.open_session(hub.store, invited.secret), body=body,
            observations=AGREEING, client_address=None,
        )  # fmt: skip
    finally:
        hub.close()
    report = tmp_path / "report.json"
    report.write_text(json.dumps({**json.loads(body), "receipt": receipt.to_json()}), "utf-8")
    key = tmp_path / "data" / keys.PUBLIC_FILE
    done = _plain(f"raise SystemExit(main(['verify', {str(report)!r}, '--key', {str(key)!r}]))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid:")
    assert receipts.RECEIPT_KEY == "receipt"


def test_admin_without_the_extra_says_what_to_install() -> None:
    done = _plain("raise SystemExit(main(['admin', 'candidates']))")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "pip install 'homecheck[serve]'" in line


def test_the_cli_loads_nothing_of_the_store() -> None:
    done = _plain(
        "import json\n"
        "try:\n    main(['admin', '--help'])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK!r} "
        "or m.startswith(('homecheck.hub.store', 'homecheck.hub.models', 'cryptography')))))"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
