"""`homecheck verify REPORT.json --key PUBKEY | --server URL [--invite ID]`: is this report the one
the employer's server received and signed? Works offline with --key, on the candidate's plain
install (only `cryptography`).

Exit codes: 0 the receipt is valid; 1 it is not, with the reason (the report was edited, the key is
unknown, the receipt is for another invite, there is no receipt); 2 a usage error (an unreadable
file, a bad key, a server that cannot be reached)."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from homecheck.errors import UsageError

EXIT_VALID, EXIT_INVALID = 0, 1
FETCH_TIMEOUT_S = 10.0
MAX_KEYS_BYTES = 1_000_000

EPILOG = """\
exit codes:
  0  the receipt is valid: the server signed exactly this report
  1  not valid (edited after signing, unknown key, another invite, no receipt): the reason is shown
  2  a usage error (unreadable report or key, server not reachable)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="REPORT.json", help="a report saved after submission")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--key",
        metavar="PUBKEY",
        help="the server's public key(s): a keys.json file from its data folder, a PEM file, "
        "or the key itself in base64url",
    )
    source.add_argument(
        "--server",
        metavar="URL",
        help="fetch the public keys from the employer's server (its .well-known address)",
    )
    parser.add_argument(
        "--invite", metavar="ID", help="also require the receipt to be for this invite id"
    )


def run(args: argparse.Namespace) -> int:
    from homecheck.hub import receipts

    report = _load_report(args.file)
    keys = _keys_from_option(args.key) if args.key is not None else _keys_from_server(args.server)
    try:
        verified = receipts.verify(report, keys, invite=args.invite)
    except receipts.ReceiptError as exc:
        print(f"invalid: {exc}")
        return EXIT_INVALID
    print(
        f"valid: signed by key {verified.key_id} at {verified.server_time} for invite "
        f"{verified.invite}, test session {verified.session}"
    )
    return EXIT_VALID


def _load_report(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"report {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"report {path}: cannot read ({exc})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise UsageError(f"report {path}: not JSON") from None
    if not isinstance(data, dict):
        raise UsageError(f"report {path}: not a homecheck report")
    return data


def _no_constant(token: str) -> None:
    raise ValueError(token)


def _keys_from_option(option: str) -> dict[str, Any]:
    from homecheck.hub import receipts

    path = Path(option)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else option
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--key {option}: cannot read ({exc})") from None
    try:
        if text.lstrip().startswith("{"):
            return receipts.keys_from_json(json.loads(text))
        public = receipts.public_from_text(text)
    except (receipts.ReceiptError, ValueError) as exc:
        raise UsageError(f"--key {option}: {exc}") from None
    return {receipts.key_id(public): public}


def _keys_from_server(url: str) -> dict[str, Any]:
    from homecheck.hub import receipts

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--server {url!r}: give an http:// or https:// address")
    address = url.rstrip("/") + receipts.WELL_KNOWN_KEYS
    try:
        with urllib.request.urlopen(address, timeout=FETCH_TIMEOUT_S) as answer:
            body = answer.read(MAX_KEYS_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"--server {url}: cannot fetch its public keys ({reason})") from None
    if len(body) > MAX_KEYS_BYTES:
        raise UsageError(f"--server {url}: its key list is too large")
    try:
        return receipts.keys_from_json(json.loads(body))
    except (receipts.ReceiptError, ValueError) as exc:
        raise UsageError(f"--server {url}: not a homecheck key list ({exc})") from None
