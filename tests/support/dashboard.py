"""A plain HTTP client for the dashboard's tests: keeps its cookies as a browser would (per name,
whatever the path), never follows redirects (the tests look at them), and fills the CSRF field
from the page it was shown."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def csrf(self) -> str:
        match = CSRF.search(self.text)
        assert match, f"no CSRF field on this page ({self.status})"
        return match.group(1)


@dataclass
class Client:
    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    address: str | None = None  # the client's own address: 127.0.0.2 ... is another client

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        parts = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(
            parts.hostname or "",
            parts.port,
            timeout=30,
            source_address=(self.address, 0) if self.address else None,
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            answer = Answer(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
            for value in response.headers.get_all("set-cookie") or []:
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return answer
        finally:
            conn.close()

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> Answer:
        return self.request(
            "POST",
            path,
            urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

    def sign_in(self, email: str, password: str, next_path: str = "") -> Answer:
        page = self.get("/dashboard/sign-in")
        assert page.status == 200, page.text
        return self.post(
            "/dashboard/sign-in",
            {"csrf_token": page.csrf(), "email": email, "password": password, "next": next_path},
        )
