"""Signing in and out of the dashboard over real HTTP against a real `homecheck serve --db`:
sessions in a cookie (HttpOnly, SameSite=Strict, Path=/dashboard), the lock-out that never locks
the real user out from another address, CSRF on every form, roles, the audit log of sign-ins."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from homecheck.dashboard import sessions
from homecheck.hub import store
from homecheck.hub.models import AuditEntry, WebSession
from tests.homecheck.dashboard.conftest import ADMIN, RECRUITER, Dashboard


def _audit(db_url: str) -> list[tuple[str | None, str, str]]:
    opened = store.open_store(db_url)
    try:
        with opened.sessions() as session:
            rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            return [(r.user_email, r.action, r.detail) for r in rows]
    finally:
        opened.close()


def test_sign_in_sets_a_strict_http_only_cookie_and_opens_the_next_page(served: Dashboard) -> None:
    client = served.client()
    answer = client.sign_in(*RECRUITER, next_path="/dashboard/candidates?q=ann")
    assert answer.status == 303
    assert answer.location == "/dashboard/candidates?q=ann"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("homecheck_session=")
    for attribute in ("HttpOnly", "Path=/dashboard", "SameSite=strict"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http here; https sets it
    page = client.get("/dashboard/candidates")
    assert page.status == 200
    assert RECRUITER[0] in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    # The store keeps the token's hash, never the token.
    token = client.cookies["homecheck_session"]
    opened = store.open_store(served.db_url)
    with opened.sessions() as session:
        hashes = set(session.scalars(select(WebSession.token_sha256)))
    opened.close()
    assert sessions.token_hash(token) in hashes
    assert token not in hashes
    assert (RECRUITER[0], "sign_in", "signed in") in _audit(served.db_url)


def test_a_wrong_password_is_refused_and_audited(served: Dashboard) -> None:
    client = served.client(address="127.0.0.3")
    answer = client.sign_in(ADMIN[0], "not the password")
    assert answer.status == 401
    assert "Wrong e-mail address or password." in answer.text
    assert "homecheck_session" not in client.cookies
    assert (ADMIN[0], "sign_in_failed", "wrong e-mail address or password") in _audit(served.db_url)
    unknown = client.sign_in("nobody@example.org", "whatever it is")
    assert unknown.status == 401  # the same answer: no hint that the account does not exist


def test_an_unsafe_next_goes_to_the_candidates_instead(served: Dashboard) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/elsewhere", "/dashboard\\x"):
        answer = served.client().sign_in(*RECRUITER, next_path=target)
        assert answer.status == 303
        assert answer.location == "/dashboard/candidates", target


def test_sign_out_ends_the_session_on_the_server(served: Dashboard) -> None:
    client = served.signed_in()
    token = client.cookies["homecheck_session"]
    page = client.get("/dashboard/candidates")
    answer = client.post("/dashboard/sign-out", {"csrf_token": page.csrf()})
    assert answer.status == 303
    assert answer.location == "/dashboard/sign-in?signed_out=1"
    assert "homecheck_session" not in client.cookies
    # The old cookie, replayed, no longer opens anything.
    replay = served.client()
    replay.cookies["homecheck_session"] = token
    again = replay.get("/dashboard/candidates")
    assert again.status == 303
    assert again.location.startswith("/dashboard/sign-in?next=")
    assert (RECRUITER[0], "sign_out", "signed out") in _audit(served.db_url)


def test_a_page_without_a_session_goes_to_sign_in_with_next(served: Dashboard) -> None:
    for path in (
        "/dashboard/candidates?verdict=fail",
        "/dashboard/audit",
        "/dashboard/candidates.csv",
    ):
        answer = served.client().get(path)
        assert answer.status == 303, path
        target = urlsplit(answer.location)
        assert target.path == "/dashboard/sign-in"
        assert parse_qs(target.query)["next"] == [path]
    forged = served.client()
    forged.cookies["homecheck_session"] = "made-up"
    assert forged.get("/dashboard/candidates").status == 303


def test_a_recruiter_on_an_admin_page_gets_403(served: Dashboard) -> None:
    recruiter = served.signed_in(RECRUITER)
    answer = recruiter.get("/dashboard/audit")
    assert answer.status == 403
    assert "for administrators" in answer.text
    admin = served.signed_in(ADMIN)
    assert admin.get("/dashboard/audit").status == 200


def test_forms_without_the_right_csrf_token_get_403(served: Dashboard) -> None:
    client = served.signed_in()
    page = client.get("/dashboard/candidates")
    for fields in ({}, {"csrf_token": ""}, {"csrf_token": page.csrf() + "x"}):
        answer = client.post("/dashboard/sign-out", fields)
        assert answer.status == 403, fields
        assert "did not come from this site" in answer.text
    assert client.get("/dashboard/candidates").status == 200  # still signed in
    # The sign-in form too: its token is a cookie the sign-in page set (double submit).
    fresh = served.client()
    fresh.get("/dashboard/sign-in")
    answer = fresh.post(
        "/dashboard/sign-in",
        {"csrf_token": "guess", "email": RECRUITER[0], "password": RECRUITER[1]},
    )
    assert answer.status == 403
    assert "homecheck_session" not in fresh.cookies


def test_lock_out_locks_one_address_out_of_one_account_only(served: Dashboard) -> None:
    attacker = served.client(address="127.0.0.5")
    for attempt in range(sessions.MAX_FAILURES_PER_ACCOUNT):
        answer = attacker.sign_in(RECRUITER[0], f"guess {attempt}")
        locked = attempt == sessions.MAX_FAILURES_PER_ACCOUNT - 1
        assert answer.status == (429 if locked else 401), attempt
    # Locked: even the right password from that address is refused now ...
    refused = attacker.sign_in(*RECRUITER)
    assert refused.status == 429
    assert "Too many failed sign-ins" in refused.text
    # ... but the real recruiter at another address signs in, and the attacker's address may
    # still sign in to another account.
    assert served.client(address="127.0.0.6").sign_in(*RECRUITER).status == 303
    assert attacker.sign_in(*ADMIN).status == 303


def test_lock_out_caps_one_address_across_accounts(served: Dashboard) -> None:
    sprayer = served.client(address="127.0.0.7")
    for attempt in range(sessions.MAX_FAILURES_PER_ADDRESS):
        sprayer.sign_in(f"user{attempt}@example.org", "spray")
    assert sprayer.sign_in(*ADMIN).status == 429
    assert served.client(address="127.0.0.8").sign_in(*ADMIN).status == 303
