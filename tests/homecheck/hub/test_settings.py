"""The employer's settings as the dashboard edits them: each value checked before it is stored.
The store's behaviour does not depend on the database here: SQLite only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from homecheck.errors import UsageError
from homecheck.hub import accounts, settings, store


@pytest.fixture
def opened(tmp_path: Path, sqlite_template: Path) -> store.Store:
    import shutil

    shutil.copyfile(sqlite_template, tmp_path / "hub.sqlite3")
    return store.open_store(f"sqlite:///{tmp_path / 'hub.sqlite3'}")


def test_the_defaults_and_each_setting_round_trip(opened: store.Store) -> None:
    with opened.sessions.begin() as session:
        assert settings.read(session) == settings.HubSettings(365, False, "", "")
        settings.set_retention_days(session, settings.parse_retention_days(" 30 "))
        settings.set_store_client_ip(session, True)
        saved = settings.set_webhook(session, "https://ats.example.com/hooks?x=1", "")
    generated = saved.webhook_secret
    assert generated.startswith("whsec_") and len(generated) > 40
    with opened.sessions.begin() as session:
        # A new URL keeps the secret unless one is given; "" turns the webhook off.
        assert settings.set_webhook(session, "http://10.0.0.5:8080/h", "").webhook_secret == (
            generated
        )
        assert settings.set_webhook(session, "", "my-own-secret-1234567").webhook_url == ""
        assert settings.read(session) == settings.HubSettings(30, True, "", "my-own-secret-1234567")
    opened.close()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: settings.parse_retention_days("0"), "between 1 and 36500"),
        (lambda s: settings.parse_retention_days("9" * 50), "between 1 and 36500"),
        (lambda s: settings.parse_retention_days("1e3"), "whole number"),
        (lambda s: settings.set_webhook(s, "ftp://x.example/"), "http:// or https://"),
        (lambda s: settings.set_webhook(s, "https:///nohost"), "http:// or https://"),
        (lambda s: settings.set_webhook(s, "https://x.example:99999999999/"), "port"),
        (lambda s: settings.set_webhook(s, "https://x.example/\x00"), "http:// or https://"),
        (lambda s: settings.set_webhook(s, "https://x.example/" + "a" * 2000), "2000"),
        (lambda s: settings.set_webhook(s, "https://x.example/", "short"), "16 to 200"),
        (lambda s: settings.set_webhook(s, "https://x.example/", "é" * 20), "ASCII"),
        (lambda s: accounts.parse_role("root"), "admin, recruiter"),
        (lambda s: accounts.create_user(s, "a\x00@b.c", "x" * 12, accounts.Role.ADMIN), "e-mail"),
    ],
)
def test_bad_values_are_refused_with_one_line(
    opened: store.Store, call: Callable[[Session], object], message: str
) -> None:
    with opened.sessions.begin() as session:
        with pytest.raises(UsageError, match=message) as error:
            call(session)
        assert "\n" not in str(error.value)
        assert settings.read(session).webhook_url == ""
    opened.close()


def test_users_are_listed_by_email_with_their_role(opened: store.Store) -> None:
    with opened.sessions.begin() as session:
        accounts.create_user(session, "zed@example.com", "a long password", accounts.Role.ADMIN)
        accounts.create_user(
            session, "amy@example.com", "a long password", accounts.parse_role("recruiter")
        )
    with opened.sessions() as session:
        listed = [(u.email, u.role) for u in accounts.list_users(session)]
    assert listed == [("amy@example.com", "recruiter"), ("zed@example.com", "admin")]
    opened.close()


def test_settings_saved_at_once_by_two_admins_both_succeed(db_url: str) -> None:
    """An upsert, on both databases: concurrent first saves of a setting do not collide on its
    primary key (the dashboard's fuzz found that 500), the last write wins."""
    import threading

    opened = store.open_store(db_url)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def save(days: int) -> None:
        try:
            with opened.sessions.begin() as session:
                settings.read(session)  # each reads first, as the page does
                barrier.wait(10)
                settings.set_retention_days(session, days)
                settings.set_store_client_ip(session, days % 2 == 0)
                assert settings.read(session).retention_days == days  # its own write
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(10 + i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        with opened.sessions() as session:
            assert settings.read(session).retention_days in {10, 11, 12, 13}
    finally:
        opened.close()
