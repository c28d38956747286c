"""Profiles in the store: each upload of a profile's TOML is validated exactly as
`homecheck run --profile` validates it (homecheck.profiles.parse) and kept as a new version of
its name, unless the same bytes are already stored. An invite pins one version."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homecheck import profiles
from homecheck.hub.models import StoredProfile
from homecheck.model import Profile


def store_profile(session: Session, name_or_path: str) -> StoredProfile:
    """A built-in profile by name or a TOML file by path, stored (ProfileError if invalid)."""
    if name_or_path in profiles.BUILTIN:
        data = profiles.builtin_path(name_or_path).read_bytes()
        source = f"builtin:{name_or_path}"
    else:
        profiles.load(name_or_path)  # the CLI's messages for a missing or unreadable file
        data = Path(name_or_path).read_bytes()
        source = Path(name_or_path).name
    return store_toml(session, data, source=source)


def store_toml(session: Session, data: bytes, *, source: str) -> StoredProfile:
    parsed = profiles.parse(data, source=source)
    digest = hashlib.sha256(data).hexdigest()
    same = session.scalar(
        select(StoredProfile).where(
            StoredProfile.name == parsed.name, StoredProfile.sha256 == digest
        )
    )
    if same is not None:
        return same
    latest = session.scalar(
        select(func.max(StoredProfile.version)).where(StoredProfile.name == parsed.name)
    )
    row = StoredProfile(name=parsed.name, version=(latest or 0) + 1, toml=data, sha256=digest)
    session.add(row)
    session.flush()
    return row


def as_profile(row: StoredProfile) -> Profile:
    """The stored version as the aggregator uses it (valid: it was validated when stored)."""
    return profiles.parse(row.toml, source=f"{row.name}@{row.version}")
