"""What each `homecheck admin` command does (options: admin.py). Only this module of the hub
prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from homecheck.errors import UsageError
from homecheck.hub import accounts, candidates, invites, keys, service
from homecheck.hub.profile_store import store_profile
from homecheck.hub.settings import MAX_RETENTION_DAYS
from homecheck.hub.store import (
    SettingName,
    Store,
    all_settings,
    get_setting,
    open_store,
    set_setting,
)
from homecheck.hub.store import data_dir as default_data_dir


def run(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    try:
        match args.admin_command:
            case "create-user":
                return _create_user(store, args)
            case "invite":
                return _invite(store, args)
            case "candidates":
                return _candidates(store, args)
            case "delete":
                return _delete(store, args)
            case "settings":
                return _settings(store, args)
            case "prune":
                return _prune(store, args)
            case "rotate-key":
                return _rotate(store, args)
            case other:
                raise UsageError(f"unknown admin command {other!r}")
    finally:
        store.close()


def _create_user(store: Store, args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    with store.sessions.begin() as session:
        accounts.create_user(session, args.email, password, accounts.Role(args.role))
    print(f"created {args.role} {args.email.strip()}")
    return 0


def _invite(store: Store, args: argparse.Namespace) -> int:
    expires_in = invites.parse_duration(args.expires)
    if not args.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url {args.base_url!r}: give an http:// or https:// address")
    with store.sessions.begin() as session:
        profile = store_profile(session, args.profile)
        new = invites.create_invite(
            session,
            profile,
            candidate=args.candidate,
            email=args.email,
            uses=args.uses,
            expires_in=expires_in,
        )
    print(invites.link(args.base_url, new.secret))
    return 0


def _candidates(store: Store, args: argparse.Namespace) -> int:
    with store.sessions() as session:
        rows = candidates.list_candidates(session)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("No invites yet: create one with `homecheck admin invite`.")
        return 0
    print(f"{'INVITE':16} {'CANDIDATE':24} {'PROFILE':10} {'RUNS':>4} {'VERDICT':12} "
          f"{'SERVER':12} AREAS")  # fmt: skip
    for row in rows:
        latest = row.latest
        verdict = latest.overall if latest else "no run yet"
        server = (
            "-"
            if latest is None or latest.corroborated is None
            else ("agrees" if latest.corroborated else "DISAGREES")
        )
        areas = ", ".join(f"{a} {v}" for a, v in latest.areas.items()) if latest else ""
        print(f"{row.invite_id:16} {_cell(row.candidate_name, 24)} {_cell(row.profile, 10)} "
              f"{row.runs:>4} {verdict:12} {server:12} {areas}")  # fmt: skip
    return 0


def _cell(text: str, width: int) -> str:
    # A candidate's name is untrusted text: no control characters reach the terminal.
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return f"{clean[: width - 1] + '…' if len(clean) > width else clean:{width}}"


def _delete(store: Store, args: argparse.Namespace) -> int:
    with store.sessions.begin() as session:
        deleted = candidates.delete_candidate(session, args.candidate)
    if not deleted:
        raise UsageError(f"no candidate or invite {args.candidate!r}")
    print(f"deleted {deleted} invite(s) of {args.candidate!r} with their tests and reports")
    return 0


def _settings(store: Store, args: argparse.Namespace) -> int:
    with store.sessions.begin() as session:
        if args.retention_days is not None:
            _check_days("--retention-days", args.retention_days)
            set_setting(session, SettingName.RETENTION_DAYS, str(args.retention_days))
        if args.store_client_ip is not None:
            set_setting(session, SettingName.STORE_CLIENT_IP, args.store_client_ip)
        for name, value in all_settings(session).items():
            print(f"{name} = {value}")
    return 0


def _check_days(option: str, days: int) -> None:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise UsageError(f"{option}: between 1 and {MAX_RETENTION_DAYS} days")


def _prune(store: Store, args: argparse.Namespace) -> int:
    with store.sessions.begin() as session:
        days = (
            args.days
            if args.days is not None
            else int(get_setting(session, SettingName.RETENTION_DAYS))
        )
        _check_days("--days", days)
        deleted = candidates.prune(session, days)
    print(f"deleted {deleted} report(s) older than {days} days")
    return 0


def _rotate(store: Store, args: argparse.Namespace) -> int:
    folder = Path(args.data_dir) if args.data_dir else default_data_dir()
    new = keys.rotate(folder)
    service.publish(store, keys.public_keys(folder))
    print(f"new signing key {new.key_id}; restart `homecheck serve` to sign with it")
    return 0
