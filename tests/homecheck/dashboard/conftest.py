"""The dashboard's tests run against a real `homecheck serve --db` on 127.0.0.1 (started as an
employer starts it) and, for pages, a real headless Chromium (tests/support/browser.py).

Shared per module so the suite stays fast: `served` (a SQLite hub with an admin and a recruiter;
tests that need their own database state start their own with `serve_dashboard`), `browser`, and
`signed_in_browser` (the recruiter). tests/support/dashboard.py is a plain HTTP client with
cookies and CSRF; tests/support/hub_seed.py writes candidates with runs straight to the store;
tests/support/browser.py starts Chromium and signs in.
PostgreSQL comes from labs/postgres.py, for the flow test (`postgres`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from homecheck.hub import accounts, store
from homecheck.hub.accounts import Role
from tests.support.browser import sign_in, start_chromium
from tests.support.dashboard import Client
from tests.support.serve import Served, start_serve, stop_serve

ADMIN = ("admin@example.org", "admin password 1")
RECRUITER = ("recruiter@example.org", "recruiter password 1")


@dataclass
class Dashboard:
    served: Served
    db_url: str
    data_dir: Path

    @property
    def url(self) -> str:
        assert self.served.web_url is not None
        return self.served.web_url

    def client(self, address: str | None = None) -> Client:
        return Client(self.url, address=address)

    def signed_in(self, who: tuple[str, str] = RECRUITER) -> Client:
        client = self.client()
        answer = client.sign_in(*who)
        assert answer.status == 303, answer.text
        return client

    def env(self) -> dict[str, str]:
        return {"XDG_DATA_HOME": str(self.data_dir)}


def add_users(db_url: str) -> None:
    opened = store.open_store(db_url)
    try:
        with opened.sessions.begin() as session:
            accounts.create_user(session, ADMIN[0], ADMIN[1], Role.ADMIN)
            accounts.create_user(session, RECRUITER[0], RECRUITER[1], Role.RECRUITER)
    finally:
        opened.close()


def serve_dashboard(db_url: str, folder: Path) -> Dashboard:
    """A real `homecheck serve --db` with an admin and a recruiter (ADMIN, RECRUITER)."""
    add_users(db_url)
    data = folder / "data"
    served = start_serve("--db", db_url, env={"XDG_DATA_HOME": str(data)})
    return Dashboard(served, db_url, data)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("dashboard")
    dashboard = serve_dashboard(f"sqlite:///{folder / 'hub.sqlite3'}", folder)
    try:
        yield dashboard
    finally:
        stop_serve(dashboard.served)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def signed_in_browser(served: Dashboard, browser: Any) -> Any:
    """The module's Chromium, signed in to `served` as the recruiter (sign in again as ADMIN
    with tests.support.browser.sign_in where a test needs it)."""
    sign_in(browser, served.url, *RECRUITER)
    return browser
