"""Receipts: the server's signed statement of what it received and what it saw itself.

A receipt is ``{"payload": {...}, "signature": "<base64url>"}`` inside the saved JSON report
(reports/report.schema.json, `receipt`). The payload holds the invite id, the test session id,
the SHA-256 of the submitted report, the server's own observations of the test, the server's
time and the id of the key that signed. The signature is Ed25519 (RFC 8032) over the payload's
canonical JSON encoding.

Canonical JSON, here: keys sorted, no whitespace (separators "," and ":"), UTF-8 without \\u
escapes for non-ASCII, no NaN or Infinity, numbers as Python writes them (the shortest text that
reads back to the same float, so parse -> encode is stable). A report's digest is the SHA-256 of
the canonical encoding of the report without its `receipt`: a submission must be sent in exactly
that encoding (homecheck.hub.ingest refuses anything else), so "the SHA-256 of the exact submitted
bytes" and "the digest `homecheck verify` recomputes from a saved, pretty-printed report" are the
same number, and an edit to any value changes it.

A key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key.

This module needs only `cryptography` (a base dependency): it is what `homecheck verify` runs on
the candidate's or the recruiter's plain install.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from homecheck.errors import HomecheckError

RECEIPT_VERSION = 1
# Where a server's web plane publishes its public keys (keys_to_json), for `verify --server`.
WELL_KNOWN_KEYS = "/.well-known/homecheck-keys.json"
RECEIPT_KEY = "receipt"  # the report's top-level key that holds it
PAYLOAD_KEYS = frozenset(
    {"version", "invite", "session", "report_sha256", "observations", "server_time", "key_id"}
)


class ReceiptError(HomecheckError):
    """A receipt that does not verify; str() is the reason, in one line."""


def canonical_json(value: Any) -> bytes:
    """The one byte encoding that is signed and hashed (see the module docstring)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def report_digest(report: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the report's canonical encoding, its receipt left out."""
    body = {k: v for k, v in report.items() if k != RECEIPT_KEY}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def raw_public(public: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url text") from None


def public_from_text(text: str) -> Ed25519PublicKey:
    """A public key given as base64url of its 32 raw bytes (as `keys.json` and the server's
    well-known route list them), or as a PEM block."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            key = load_pem_public_key(text.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            return key
        return Ed25519PublicKey.from_public_bytes(unb64(text))
    except ValueError as exc:
        raise ReceiptError(f"not an Ed25519 public key ({exc})") from None


@dataclass(frozen=True)
class Receipt:
    payload: dict[str, Any]
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"payload": self.payload, "signature": self.signature}


def sign(
    private: Ed25519PrivateKey,
    *,
    invite: str,
    session: str,
    report_sha256: str,
    observations: Mapping[str, Any],
    server_time: str,
) -> Receipt:
    payload = {
        "version": RECEIPT_VERSION,
        "invite": invite,
        "session": session,
        "report_sha256": report_sha256,
        "observations": dict(observations),
        "server_time": server_time,
        "key_id": key_id(private.public_key()),
    }
    return Receipt(payload, b64(private.sign(canonical_json(payload))))


@dataclass(frozen=True)
class Verified:
    """What a valid receipt vouches for."""

    invite: str
    session: str
    server_time: str
    key_id: str
    observations: dict[str, Any]


def verify(
    report: Mapping[str, Any],
    keys: Mapping[str, Ed25519PublicKey],
    *,
    invite: str | None = None,
) -> Verified:
    """Check the receipt inside a parsed report against the server's public keys (by key id).
    Raises ReceiptError with the reason: no receipt, unknown key, bad signature, edited report,
    or (when `invite` is given) a receipt for another invite."""
    receipt = report.get(RECEIPT_KEY)
    if receipt is None:
        raise ReceiptError("the report carries no receipt (it was not submitted to a server)")
    try:
        digest = report_digest(report)
    except ValueError:  # text no UTF-8 can hold (a lone surrogate escape): not what was signed
        digest = ""
    return verify_digest(receipt, digest, keys, invite=invite)


def verify_digest(
    receipt: Any,
    digest: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    invite: str | None = None,
) -> Verified:
    """`verify` for a report known by its digest: the hub's stored submission, whose bytes are
    its canonical encoding, so their SHA-256 is the digest (no parse, no re-encoding)."""
    if not isinstance(receipt, Mapping) or set(receipt) != {"payload", "signature"}:
        raise ReceiptError("the receipt is damaged (not {payload, signature})")
    payload = receipt["payload"]
    if not isinstance(payload, Mapping) or set(payload) != PAYLOAD_KEYS:
        raise ReceiptError("the receipt is damaged (its payload's fields are not the signed ones)")
    if payload["version"] != RECEIPT_VERSION:
        raise ReceiptError(f"receipt version {payload['version']!r} is not known to this homecheck")
    kid = payload["key_id"]
    public = keys.get(kid) if isinstance(kid, str) else None
    if public is None:
        known = ", ".join(sorted(keys)) or "none"
        raise ReceiptError(f"signed by an unknown key {kid!r} (known key ids: {known})")
    try:
        public.verify(unb64(receipt["signature"]), canonical_json(dict(payload)))
    except (InvalidSignature, ValueError):
        raise ReceiptError(
            "the receipt's signature is not valid (the receipt was edited)"
        ) from None
    if payload["report_sha256"] != digest:
        raise ReceiptError("the report was edited after the server signed it (SHA-256 differs)")
    if invite is not None and payload["invite"] != invite:
        raise ReceiptError(f"the receipt is for invite {payload['invite']!r}, not {invite!r}")
    observations = payload["observations"]
    return Verified(
        invite=str(payload["invite"]),
        session=str(payload["session"]),
        server_time=str(payload["server_time"]),
        key_id=kid,
        observations=dict(observations) if isinstance(observations, Mapping) else {},
    )


def keys_from_json(data: Any) -> dict[str, Ed25519PublicKey]:
    """The public keys of a `keys.json` file or of the server's well-known route:
    ``{"keys": [{"key_id": ..., "public_key": "<base64url raw>"}, ...]}``. A listed key id that
    does not match its key is refused: the id is what a receipt names."""
    entries = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise ReceiptError('not a list of public keys (expected {"keys": [...]})')
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("public_key"), str):
            raise ReceiptError("a key entry without a public_key")
        public = public_from_text(entry["public_key"])
        if entry.get("key_id") != key_id(public):
            raise ReceiptError(f"key id {entry.get('key_id')!r} does not match its public key")
        keys[key_id(public)] = public
    return keys


def keys_to_json(keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    return {"keys": [{"key_id": kid, "public_key": b64(raw_public(k))} for kid, k in keys.items()]}
