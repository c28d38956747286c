"""The server's Ed25519 signing key, kept in its data folder.

- `signing_key.pem`: the private key (PKCS#8 PEM, mode 0600), generated at first start;
- `keys.json`: every public key this data folder ever signed with, current and rotated out,
  in the format `homecheck verify --key` reads (homecheck.hub.receipts.keys_from_json).

Rotation writes a new private key and appends its public key: receipts signed with an old key
still verify, because the old public key stays listed (and in the store's `signing_keys` table,
from which the web plane serves `/.well-known/homecheck-keys.json`). The old private key is not
kept: nothing should sign with it again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from homecheck.errors import HomecheckError
from homecheck.hub import receipts

PRIVATE_FILE = "signing_key.pem"
PUBLIC_FILE = "keys.json"


class KeyFileError(HomecheckError):
    """The data folder's key cannot be read or written."""


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    key_id: str

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


def load_or_create(data_dir: Path) -> SigningKey:
    """The data folder's signing key, created (0600) when there is none."""
    path = data_dir / PRIVATE_FILE
    if not path.exists():
        try:
            return _create(data_dir, first=True)
        except FileExistsError:  # another serve process of this folder made it a moment ago
            pass
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: cannot read the signing key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    signing = SigningKey(key, receipts.key_id(key.public_key()))
    _remember(data_dir, signing.public)  # a folder from before keys.json, or a deleted one
    return signing


def rotate(data_dir: Path) -> SigningKey:
    """A new signing key; the old public key stays in keys.json."""
    load_or_create(data_dir)  # the current public key is listed before it is replaced
    return _create(data_dir)


def public_keys(data_dir: Path) -> dict[str, Ed25519PublicKey]:
    path = data_dir / PUBLIC_FILE
    if not path.exists():
        return {}
    try:
        return receipts.keys_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: cannot read the public keys ({exc})") from None


def _create(data_dir: Path, *, first: bool = False) -> SigningKey:
    """A new key. `first`: only if there is none yet (FileExistsError otherwise), so two
    processes starting on a fresh folder end up with one key, not one each."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(data_dir / PRIVATE_FILE, pem, replace=not first)
    signing = SigningKey(private, receipts.key_id(private.public_key()))
    _remember(data_dir, signing.public)
    return signing


def _write_private(path: Path, pem: bytes, *, replace: bool) -> None:
    """Written to a 0600 file of its own beside it, then renamed over (or, when not replacing,
    linked: that fails if the key appeared meanwhile): never readable by others, never half
    written."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _remember(data_dir: Path, public: Ed25519PublicKey) -> None:
    known = public_keys(data_dir)
    kid = receipts.key_id(public)
    if kid in known:
        return
    known[kid] = public
    path = data_dir / PUBLIC_FILE
    temporary = path.with_name(f"{path.name}.{os.getpid()}.new")
    temporary.write_text(json.dumps(receipts.keys_to_json(known), indent=2) + "\n", "utf-8")
    os.replace(temporary, path)
