"""A bounded fuzz of every dashboard form and page and the hub's API routes, against a real
`homecheck serve --db` on PostgreSQL: zero 5xx answers and no traceback in the server's log.

Three passes, each seeded (a failure names its seed and case, rebuilt alone with the same seed):
- the raw HTTP fuzz (tests/support/fuzz.py: methods, headers, framing, bodies) on every route,
  signed out, then with an admin's session cookie;
- the forms: every <form> the dashboard's pages show (found by reading the pages, so a new form
  is fuzzed without listing it here), submitted signed in with mutated fields (missing, repeated,
  huge, NUL, control and bidi characters, numbers out of range, wrong types, bad percent-escapes),
  odd encodings (raw non-UTF-8 bytes, broken multipart, JSON, no content type), and a missing or
  wrong CSRF token (which must get 403);
- the pages' query strings (filters, sort, page) mutated the same way.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from starlette.routing import Route

from homecheck.dashboard.routes import ROUTES
from homecheck.hub import ingest, invites, receipts, store
from homecheck.hub.corroboration import ServerObservations
from homecheck.hub.keys import load_or_create
from homecheck.hub.profile_store import store_profile
from tests.homecheck.dashboard.conftest import ADMIN, Dashboard, add_users
from tests.homecheck.hub.conftest import report_body
from tests.support.fuzz import fuzz
from tests.support.serve import start_serve, stop_serve

RAW_REQUESTS = 400  # each pass: signed out, signed in
FORM_CASES = 500
QUERY_CASES = 150
WORKERS = 8
API_PATHS = ("/api/invite", "/api/submit", "/.well-known/homecheck-keys.json", "/i/x", "/")
NEVER = ("/dashboard/sign-out",)  # fuzzed last: it ends the session the other cases use

VALUES = (
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "1e400",
    "NaN",
    "9" * 400,
    "x" * 100_000,
    "\x00",
    "a\x00b",
    "\u202e\u2066x",
    "<script>alert(1)</script>",
    "'\"`",
    "%ff%00",
    "\U0001f642" * 500,
    "\r\n\r\n",
    "true",
    "[]",
    "{}",
    "id:-1",
    "id:99999999999999999999",
    "builtin:../../etc/passwd",
    "2026-13-45",
    "0000-00-00",
    "inv-" + "x" * 100,
    '=HYPERLINK("http://x")',
    "a@b",
    "http://127.0.0.1:9/hook",
    "https://[::1",
    "7d",
    "0d",
    "99999w",
    "admin",
    "recruiter",
    "on",
)


@dataclass
class FoundForm:
    action: str
    method: str
    enctype: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[FoundForm] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                FoundForm(
                    a.get("action") or self.page,
                    (a.get("method") or "get").lower(),
                    a.get("enctype") or "application/x-www-form-urlencoded",
                )
            )
        elif self.forms and tag in {"input", "textarea", "button"} and a.get("name"):
            if a.get("type") == "file":
                self.forms[-1].files.append(a["name"])
            else:
                self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif self.forms and tag == "select" and a.get("name"):
            self._select = a["name"]
        elif self.forms and tag == "option" and self._select is not None:
            self.forms[-1].fields.append((self._select, a.get("value", "")))
            self._select = None  # the first option is the select's value


@dataclass
class Http:
    base_url: str
    cookie: str = ""

    def send(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        parts = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = self.cookie
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in sent.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or b"")
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()


@dataclass
class Fuzzed:
    dashboard: Dashboard
    log: list[str]
    invite_id: str
    profile_id: int
    secret: str


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Fuzzed]:
    folder = tmp_path_factory.mktemp("fuzz")
    # PostgreSQL, the stricter of the two: it refuses NUL in text and a string over its column's
    # length, where SQLite stores both (the rules the hub enforces are tested on both in hub/).
    db_url = request.getfixturevalue("postgres").fresh_database()
    opened = store.open_store(db_url)
    try:  # a candidate with a run, so the candidate's pages have something to show
        key = load_or_create(folder / "keys")
        with opened.sessions.begin() as session:
            profile = store_profile(session, "voice")
            made = invites.create_invite(
                session, profile, candidate="Fuzz <b>Target</b>", email="f@example.com",
                uses=5, expires_in=invites.parse_duration("7d"),
            )  # fmt: skip
            invite_id, profile_id = made.invite.id, profile.id
        ingest.ingest(
            opened, key, invite_secret=made.secret,
            session_id=ingest.open_session(opened, made.secret), body=report_body(5),
            observations=ServerObservations(), client_address=None,
        )  # fmt: skip
    finally:
        opened.close()
    # A silent connection (random bytes that are no request) is closed after 2 s, not serve's
    # default 10: the raw fuzz waits for that answer.
    add_users(db_url)
    served = start_serve(
        "--db", db_url, "--idle-timeout", "2", env={"XDG_DATA_HOME": str(folder / "data")}
    )
    dashboard = Dashboard(served, db_url, folder / "data")
    log: list[str] = []
    stderr = dashboard.served.process.stderr
    assert stderr is not None
    drain = threading.Thread(target=lambda: log.extend(stderr), daemon=True)
    drain.start()
    try:
        yield Fuzzed(dashboard, log, invite_id, profile_id, receipts.b64(made.secret))
    finally:
        stop_serve(dashboard.served)
        drain.join(5)


ODD_IDS = ("%00", "a%00b", "x" * 300, "%ff", "99999999999999999999", "-1", "..")


def _paths(found: Fuzzed, *, odd: bool = False) -> list[str]:
    """Every dashboard route, its parameters filled with a real invite and profile (and, with
    `odd`, also with ids no row has: NUL, too long, not UTF-8, beyond the database's integer)."""
    paths = []
    for route in ROUTES:
        if isinstance(route, Route):
            path = re.sub(r"\{profile_id(:int)?\}", str(found.profile_id), route.path)
            paths.append(re.sub(r"\{[a-z_]+(:[a-z]+)?\}", found.invite_id, path))
            if odd and "{" in route.path:
                paths += [re.sub(r"\{[a-z_]+(:[a-z]+)?\}", bad, route.path) for bad in ODD_IDS]
    return sorted(set(paths))


def _server_errors(counts: Counter[int | str]) -> dict[int | str, int]:
    return {k: v for k, v in counts.items() if isinstance(k, int) and k >= 500}


def test_raw_requests_signed_out_and_in(fuzzed: Fuzzed) -> None:
    paths = (*_paths(fuzzed, odd=True), *API_PATHS)
    port = urlsplit(fuzzed.dashboard.url).port
    assert port is not None
    client = fuzzed.dashboard.signed_in(ADMIN)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    started = time.monotonic()
    signed_out = fuzz("127.0.0.1", port, n=RAW_REQUESTS, seed=14, paths=paths, workers=WORKERS)
    signed_in = fuzz(
        "127.0.0.1", port, n=RAW_REQUESTS, seed=15, paths=paths, workers=WORKERS,
        headers=[("Cookie", cookie)],
    )  # fmt: skip
    took = time.monotonic() - started
    print(f"raw fuzz: {2 * RAW_REQUESTS} requests in {took:.1f} s")
    print(f"  signed out: {sorted(signed_out.items(), key=str)}")
    print(f"  signed in: {sorted(signed_in.items(), key=str)}")
    assert _server_errors(signed_out) == {} and _server_errors(signed_in) == {}, "".join(
        fuzzed.log
    )[-6000:]
    assert signed_out["timeout"] == 0 and signed_in["timeout"] == 0
    # It reached the pages: sign-in redirects signed out, pages (200) and CSRF refusals signed in.
    assert signed_out[303] > 10 and signed_in[200] > 5 and signed_in[403] > 0


def _forms(found: Fuzzed, http_client: Http) -> list[FoundForm]:
    forms: dict[tuple[str, str], FoundForm] = {}
    for path in _paths(found):
        status, page = http_client.send("GET", path)
        if status != 200:
            continue
        parser = _Forms(path)
        parser.feed(page)
        for form in parser.forms:
            forms.setdefault((form.method, form.action), form)
    return list(forms.values())


def _mutated(rng: random.Random, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in fields:
        roll = rng.random()
        if roll < 0.15:
            continue  # missing
        if roll < 0.6:
            value = rng.choice(VALUES)
        elif roll < 0.7:
            out.append((name, rng.choice(VALUES)))  # repeated
        out.append((name, value))
    if rng.random() < 0.2:
        out.append((rng.choice(["x", "page", "sort", "role", ""]), rng.choice(VALUES)))
    return out


def _encode(
    rng: random.Random, form: FoundForm, fields: list[tuple[str, str]], token: str
) -> tuple[bytes, dict[str, str], str]:
    """A body for the form, its headers, and the kind of body ("ok" or how it is odd)."""
    roll = rng.random()
    if roll < 0.06:
        return (
            b"\xff\xfe%ff=\x00" + bytes(rng.getrandbits(8) for _ in range(50)),
            {"Content-Type": "application/x-www-form-urlencoded"},
            "bytes",
        )
    if roll < 0.1:
        return json.dumps(dict(fields)).encode(), {"Content-Type": "application/json"}, "json"
    if roll < 0.13:
        return urlencode(fields).encode(), {}, "no-type"
    if roll < 0.16:
        return b"--x\r\nbroken", {"Content-Type": "multipart/form-data; boundary=x"}, "broken"
    if roll < 0.18:
        return urlencode(fields).encode(), {"Content-Type": "multipart/form-data"}, "no-boundary"
    if form.enctype == "multipart/form-data" or rng.random() < 0.1:
        boundary = f"b{rng.getrandbits(32)}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{quote(n)}"\r\n\r\n'.encode()
            + v.encode("utf-8", "surrogatepass")
            + b"\r\n"
            for n, v in fields
        ]
        for name in form.files:
            data = rng.choice(
                [
                    b"",
                    b"Ann,ann@example.com\n",
                    b'name = "x"\n',
                    Path(__file__).read_bytes()[:5000],
                    bytes(rng.getrandbits(8) for _ in range(3000)),
                    b"a," * 50_000,
                    b"\xef\xbb\xbfname,email\n" + "Zo\u00eb,z@example.com\n".encode(),
                ]
            )
            filename = rng.choice(["a.csv", "../../x.toml", "", "\u202e.toml", "x" * 500])
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}, "ok"
    text = urlencode(fields, quote_via=quote)
    if rng.random() < 0.1:
        text += "&" + rng.choice(["%", "%zz", "%ff%fe", "a=%C0%80", "=", "&&&"])
    return text.encode(), {"Content-Type": "application/x-www-form-urlencoded"}, "ok"


def test_every_form_mutated_gets_no_5xx(fuzzed: Fuzzed) -> None:
    client = fuzzed.dashboard.signed_in(ADMIN)
    http_client = Http(
        fuzzed.dashboard.url, "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    )
    token = client.get("/dashboard/invites").csrf()
    forms = _forms(fuzzed, http_client)
    actions = {(f.method, f.action) for f in forms}
    # The pages' forms were found: at least those of the invites, profiles, users and settings.
    for expected in ("/dashboard/invites", "/dashboard/invites/bulk", "/dashboard/profiles",
                     "/dashboard/users", "/dashboard/settings/webhook"):  # fmt: skip
        assert ("post", expected) in actions, sorted(actions)
    posts = [f for f in forms if f.method == "post" and f.action not in NEVER]
    gets = [f for f in forms if f.method == "get"]

    def one(index: int) -> tuple[int, str, str]:
        rng = random.Random(f"forms:{index}")
        form = rng.choice(posts)
        fields = [(n, v) for n, v in form.fields if n != "csrf_token"]
        csrf = rng.choices(["ok", "missing", "wrong"], [80, 10, 10])[0]
        mutated = _mutated(rng, fields)
        if csrf == "ok":
            mutated.insert(rng.randint(0, len(mutated)), ("csrf_token", token))
        elif csrf == "wrong":
            mutated.append(("csrf_token", rng.choice(VALUES)))
        body, headers, kind = _encode(rng, form, mutated, token)
        status, _ = http_client.send("POST", form.action, body, headers)
        return (
            status,
            f"{index} {form.action} csrf={csrf} body={kind}",
            csrf if kind == "ok" else "",
        )

    def query(index: int) -> tuple[int, str, str]:
        rng = random.Random(f"query:{index}")
        form = rng.choice(gets) if gets and rng.random() < 0.7 else None
        path = form.action if form else rng.choice(_paths(fuzzed))
        fields = _mutated(rng, form.fields if form else [("page", "1"), ("sort", "name")])
        target = f"{path}?{urlencode(fields, quote_via=quote)}"
        if rng.random() < 0.1:
            target += rng.choice(["&%", "&a=%ff", "&page=%00", "&" + "p=1&" * 3000])
        return http_client.send("GET", target)[0], f"{index} GET {target[:120]}", ""

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(one, range(FORM_CASES)))
        outcomes += list(pool.map(query, range(QUERY_CASES)))
    took = time.monotonic() - started
    counts = Counter(status for status, _, _ in outcomes)
    print(f"form fuzz: {len(outcomes)} requests in {took:.1f} s: {sorted(counts.items())}")
    failures = [case for status, case, _ in outcomes if status >= 500]
    assert failures == [], (failures[:20], "".join(fuzzed.log)[-4000:])
    # A form without its token (well-formed otherwise) is refused, never obeyed.
    unguarded = [
        case for status, case, csrf in outcomes if csrf in {"missing", "wrong"} and status != 403
    ]
    assert unguarded == [], unguarded[:20]
    assert counts[200] + counts[303] > 100  # many cases were accepted or answered a page

    # The session still works, and sign-out (not fuzzed above) ends it.
    assert client.get("/dashboard/invites").status == 200
    answer = client.post("/dashboard/sign-out", {"csrf_token": token + "x"})
    assert answer.status == 403


def test_the_api_with_random_invites_and_bodies(fuzzed: Fuzzed) -> None:
    http_client = Http(fuzzed.dashboard.url)
    statuses: Counter[int] = Counter()
    for index in range(60):
        rng = random.Random(f"api:{index}")
        bearer = rng.choice([fuzzed.secret, "", "x", "A" * 43, fuzzed.secret[:-1] + "A", "%00"])
        headers = {"Authorization": rng.choice(["Bearer ", "bearer ", "Basic ", ""]) + bearer}
        if rng.random() < 0.5:
            headers["X-Homecheck-Session"] = rng.choice(["", "0" * 32, "x" * 5000, "\u00e9"])
        body = rng.choice([b"", b"{}", b"[]", report_body(index + 100), b"\xff" * 100])
        path = rng.choice(["/api/invite", "/api/submit"])
        try:
            status, _ = http_client.send("POST" if path.endswith("submit") else "GET", path,
                                         body, headers)  # fmt: skip
        except UnicodeEncodeError:
            continue  # http.client will not send a non-Latin-1 header; nothing to test
        statuses[status] += 1
    assert _server_errors(Counter(statuses)) == {}, statuses


def test_the_server_logged_no_traceback(fuzzed: Fuzzed) -> None:
    """Last in this module: after every fuzz above, the server's log holds no traceback."""
    client = fuzzed.dashboard.client()
    assert client.get("/healthz").status == 200
    text = "".join(fuzzed.log)
    assert "Traceback" not in text, text[-3000:]
    assert " ERROR " not in text, text[-3000:]


def test_odd_ids_in_every_route_get_4xx(fuzzed: Fuzzed) -> None:
    """Each route with an id, given ids no row has, by GET and by POST with a valid token."""
    client = fuzzed.dashboard.signed_in(ADMIN)
    token = client.get("/dashboard/invites").csrf()
    answers = {}
    for path in _paths(fuzzed, odd=True):
        if not any(bad in path for bad in ODD_IDS):
            continue
        answers[("GET", path)] = client.get(path).status
        answers[("POST", path)] = client.post(path, {"csrf_token": token, "by": "7d"}).status
    assert answers, "no route takes an id"
    bad = {k: v for k, v in answers.items() if not 400 <= v < 500}
    assert bad == {}, bad
