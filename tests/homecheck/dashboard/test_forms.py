"""The dashboard's form reading (homecheck/dashboard/web.py): url-encoded and multipart bodies
with the standard library, bad bodies a clear 4xx, never a 500."""

from __future__ import annotations

import pytest

from homecheck.dashboard.web import MAX_FIELDS, Rejected, _parse_form

MULTIPART = "multipart/form-data; boundary=XyZ"


def _multipart(*parts: bytes) -> bytes:
    return b"".join(b"--XyZ\r\n" + p + b"\r\n" for p in parts) + b"--XyZ--\r\n"


def test_url_encoded_fields_keep_order_repeats_and_blanks() -> None:
    form = _parse_form("application/x-www-form-urlencoded", b"a=1&b=&a=%C3%A9+2")
    assert form.getlist("a") == ["1", "é 2"]
    assert form.get("a") == "é 2" and form.get("b") == "" and form.get("c", "none") == "none"


def test_multipart_fields_and_files() -> None:
    body = _multipart(
        b'Content-Disposition: form-data; name="csrf_token"\r\n\r\ntok',
        b'Content-Disposition: form-data; name="name"\r\n\r\nZo\xc3\xab',
        b'Content-Disposition: form-data; name="csv"; filename="people.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nname,email\r\nAnn,ann@example.org",
    )
    form = _parse_form(MULTIPART, body)
    assert form.get("csrf_token") == "tok" and form.get("name") == "Zoë"
    upload = form.files["csv"]
    assert upload.filename == "people.csv" and upload.content_type == "text/csv"
    assert upload.data == b"name,email\r\nAnn,ann@example.org"


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/x-www-form-urlencoded", b"a=\xff", 400),
        ("application/x-www-form-urlencoded", b"a=1&" * (MAX_FIELDS + 1), 400),
        (MULTIPART, b"not multipart at all", 400),
        (MULTIPART, _multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n\xff'), 400),
        ("text/plain", b"a=1", 415),
        ("application/json", b"{}", 415),
    ],
)
def test_bad_bodies_are_refused_with_a_4xx(content_type: str, body: bytes, status: int) -> None:
    with pytest.raises(Rejected) as refused:
        _parse_form(content_type, body)
    assert refused.value.status == status
