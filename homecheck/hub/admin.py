"""`homecheck admin ...`: the employer server's own commands (as healthchecks' management
commands are). Options live here; the work, which needs the `serve` extra (SQLAlchemy, Alembic,
psycopg, argon2-cffi, jsonschema), is imported only when a command runs (admin_commands.py), so
`--help` and a missing extra work on the candidate's plain install."""

from __future__ import annotations

import argparse

from homecheck import profiles
from homecheck.errors import UsageError
from homecheck.server.command import DEFAULT_HOST, DEFAULT_WEB_PORT, INSTALL_HINT

# What the admin commands import from the `serve` extra: a missing one means it is not installed.
EXTRA_MODULES = {"sqlalchemy", "alembic", "psycopg", "argon2", "jsonschema", "mako"}
DEFAULT_BASE_URL = f"http://{DEFAULT_HOST}:{DEFAULT_WEB_PORT}"  # the web plane serves invites


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)

    user = sub.add_parser("create-user", help="create a dashboard account")
    user.add_argument("email", metavar="EMAIL")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of stdin (never from the command line)",
    )
    user.add_argument(
        "--role", choices=("admin", "recruiter"), default="admin", help="(default: admin)"
    )
    _add_db(user)

    invite = sub.add_parser("invite", help="create an invite and print its link")
    invite.add_argument(
        "--profile",
        required=True,
        metavar="NAME|PATH",
        help=f"built-in profile ({', '.join(profiles.BUILTIN)}) or a TOML file; stored as a "
        "new version when it changed",
    )
    invite.add_argument("--candidate", required=True, metavar="NAME", help="the candidate's name")
    invite.add_argument("--email", metavar="E", help="the candidate's e-mail address")
    invite.add_argument(
        "--uses", type=int, default=3, metavar="N", help="runs the link allows (default: 3)"
    )
    invite.add_argument(
        "--expires", default="7d", metavar="DURATION", help="e.g. 48h, 7d, 2w (default: 7d)"
    )
    invite.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help=f"the server's address as candidates reach it (default: {DEFAULT_BASE_URL})",
    )
    _add_db(invite)

    listing = sub.add_parser("candidates", help="list invites with their latest verdicts and runs")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_db(listing)

    remove = sub.add_parser(
        "delete", help="delete a candidate: every invite, test and report of them"
    )
    remove.add_argument("candidate", metavar="CANDIDATE", help="an invite id or the exact name")
    _add_db(remove)

    settings = sub.add_parser("settings", help="show or change the server's settings")
    settings.add_argument(
        "--retention-days",
        type=int,
        metavar="N",
        help="keep reports N days; `admin prune` deletes older ones",
    )
    settings.add_argument(
        "--store-client-ip",
        choices=("on", "off"),
        help="keep each submission's client address (default: off; candidates are told)",
    )
    _add_db(settings)

    prune = sub.add_parser("prune", help="delete reports older than the retention setting")
    prune.add_argument(
        "--days", type=int, metavar="N", help="override the retention setting for this run"
    )
    _add_db(prune)

    rotate = sub.add_parser(
        "rotate-key",
        help="start signing receipts with a new key (old receipts still verify)",
    )
    rotate.add_argument(
        "--data-dir", metavar="DIR", help="the server's data folder (default: the user's)"
    )
    _add_db(rotate)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///PATH or postgresql://USER@HOST/NAME (default: a SQLite file in the "
        "user's data folder)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from homecheck.hub import admin_commands
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in EXTRA_MODULES:
            raise
        raise UsageError(
            f"homecheck admin needs the server extra ({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    return admin_commands.run(args)
