"""`homecheck verify`: exit 0 for a report exactly as signed, 1 with the reason for an edited one,
an unknown key or another invite, 2 for a usage error; keys from a file or from a real server's
well-known address; a rotated key keeps old receipts verifiable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import hypercorn.asyncio
import hypercorn.config
import pytest
from starlette.applications import Starlette

from homecheck.hub import ingest, keys, receipts, service
from homecheck.hub.routes import keys_route
from homecheck.hub.service import Hub
from tests.homecheck.hub.conftest import AGREEING, homecheck, invite, report_body


def _submitted(hub: Hub, folder: Path, run: int = 0, name: str = "report.json") -> Path:
    invited = invite(hub)
    body = report_body(run)
    receipt = ingest.ingest(
        hub.store, hub.key, invite_secret=invited.secret,
        session_id=ingest.open_session(hub.store, invited.secret), body=body,
        observations=AGREEING, client_address=None,
    )  # fmt: skip
    data = json.loads(body)
    data[receipts.RECEIPT_KEY] = receipt.to_json()
    path = folder / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[Hub]:
    started = service.start(f"sqlite:///{tmp_path / 'hub.sqlite3'}", key_dir=tmp_path / "data")
    yield started
    started.close()


def _verify(*args: str) -> tuple[int, str]:
    done = homecheck("verify", *args)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def test_verify_says_why_a_receipt_is_not_valid(sqlite_hub: Hub, tmp_path: Path) -> None:
    report = _submitted(sqlite_hub, tmp_path)
    keys_file = str(tmp_path / "data" / keys.PUBLIC_FILE)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert _verify(str(report), "--key", keys_file)[0] == 0
    # Only the key itself, in base64url, as an employer may paste it.
    (entry,) = json.loads(Path(keys_file).read_text())["keys"]
    assert _verify(str(report), "--key", entry["public_key"])[0] == 0

    text = report.read_text(encoding="utf-8")
    edited = tmp_path / "edited.json"
    edited.write_text(text.replace('"value": 42.5', '"value": 92.5', 1), encoding="utf-8")
    assert edited.read_text() != text
    code, out = _verify(str(edited), "--key", keys_file)
    assert code == 1 and "edited" in out

    other_key = receipts.b64(receipts.raw_public(keys.load_or_create(tmp_path / "other").public))
    code, out = _verify(str(report), "--key", other_key)
    assert code == 1 and "unknown key" in out

    code, out = _verify(str(report), "--key", keys_file, "--invite", "inv-000000000000")
    assert code == 1 and "not 'inv-000000000000'" in out
    assert (
        _verify(str(report), "--key", keys_file, "--invite", data["receipt"]["payload"]["invite"])[
            0
        ]
        == 0
    )

    data["receipt"]["payload"]["server_time"] = "2020-01-01T00:00:00+00:00"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    code, out = _verify(str(forged), "--key", keys_file)
    assert code == 1 and "signature" in out

    del data["receipt"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(data), encoding="utf-8")
    code, out = _verify(str(bare), "--key", keys_file)
    assert code == 1 and "no receipt" in out


@pytest.mark.parametrize(
    "args",
    [
        ("missing.json", "--key", "AAAA"),
        ("REPORT", "--key", "not a key"),
        ("REPORT",),  # neither --key nor --server
        ("REPORT", "--server", "ftp://example.invalid"),
        ("REPORT", "--server", "http://127.0.0.1:1"),
    ],
)
def test_usage_errors_exit_2(sqlite_hub: Hub, tmp_path: Path, args: tuple[str, ...]) -> None:
    report = str(_submitted(sqlite_hub, tmp_path))
    code, out = _verify(*(report if a == "REPORT" else a for a in args))
    assert code == 2, out


@pytest.fixture
def served_keys(sqlite_hub: Hub) -> Iterator[str]:
    """The hub's well-known keys route on a real server (Hypercorn, the web plane's) on
    127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    app = Starlette(routes=[keys_route(sqlite_hub)])
    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def run() -> None:
        started.set()
        await hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    started.wait(10)
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def test_verify_with_the_servers_published_keys(
    sqlite_hub: Hub, served_keys: str, tmp_path: Path
) -> None:
    report = _submitted(sqlite_hub, tmp_path)
    code, out = _verify(str(report), "--server", served_keys)
    assert code == 0, out
    assert sqlite_hub.key.key_id in out


def test_a_rotated_key_keeps_old_receipts_verifiable(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = service.start(db_url, key_dir=data_dir)
    old_report = _submitted(first, tmp_path, 0, "old.json")
    first.close()

    done = homecheck("admin", "rotate-key", "--data-dir", str(data_dir), "--db", db_url)
    assert done.returncode == 0, done.stderr
    second = service.start(db_url, key_dir=data_dir)  # the restarted server signs with the new key
    try:
        assert second.key.key_id != first.key.key_id
        new_report = _submitted(second, tmp_path, 1, "new.json")
        published = receipts.keys_from_json(service.published_keys(second.store))
    finally:
        second.close()
    assert set(published) == {first.key.key_id, second.key.key_id}
    keys_file = str(data_dir / keys.PUBLIC_FILE)
    for report, kid in ((old_report, first.key.key_id), (new_report, second.key.key_id)):
        code, out = _verify(str(report), "--key", keys_file)
        assert code == 0 and kid in out, out


def test_the_private_key_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    keys.load_or_create(tmp_path)
    assert (tmp_path / keys.PRIVATE_FILE).stat().st_mode & 0o777 == 0o600
    assert keys.load_or_create(tmp_path).key_id == keys.load_or_create(tmp_path).key_id


def test_a_lone_surrogate_in_a_report_is_invalid_not_a_crash(
    sqlite_hub: Hub, tmp_path: Path
) -> None:
    report = _submitted(sqlite_hub, tmp_path)
    text = report.read_text(encoding="utf-8").replace('"homecheck"', '"homecheck\\ud800"', 1)
    report.write_text(text, encoding="utf-8")
    code, out = _verify(str(report), "--key", str(tmp_path / "data" / keys.PUBLIC_FILE))
    assert code == 1 and "edited" in out, out


def test_a_second_process_starting_on_a_fresh_folder_keeps_the_first_key(tmp_path: Path) -> None:
    first = keys.load_or_create(tmp_path)
    # What the second process does when the key appeared after it looked: it does not replace it.
    with pytest.raises(FileExistsError):
        keys._create(tmp_path, first=True)
    assert keys.load_or_create(tmp_path).key_id == first.key_id
    assert list(keys.public_keys(tmp_path)) == [first.key_id]
    assert sorted(p.name for p in tmp_path.iterdir()) == [keys.PUBLIC_FILE, keys.PRIVATE_FILE]
