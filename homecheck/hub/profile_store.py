"""Profiles in the store: each upload of a profile's TOML is validated exactly as
`homecheck run --profile` validates it (homecheck.profiles.parse) and kept as a new version of
its name, unless the same bytes are already stored. An invite pins one version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homecheck import metrics, profiles
from homecheck.hub.models import StoredProfile
from homecheck.model import Profile

MAX_UPLOAD_BYTES = 256 * 1024  # the built-in profiles are under 10 KiB
MAX_NAME_CHARS = 200


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
    if len(parsed.name) > MAX_NAME_CHARS or not parsed.name.isprintable():
        raise profiles.ProfileError(
            source, "name", f"at most {MAX_NAME_CHARS} printable characters"
        )
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


def upload(session: Session, data: bytes, filename: str) -> StoredProfile:
    """A profile uploaded on the dashboard: bounded, then validated and stored as `store_toml`
    does. Only the file's base name is shown in messages (as the CLI shows a path's name)."""
    source = Path(filename.replace("\\", "/")).name[:100] or "uploaded.toml"
    if len(data) > MAX_UPLOAD_BYTES:
        raise profiles.ProfileError(source, None, f"over {MAX_UPLOAD_BYTES // 1024} KiB")
    return store_toml(session, data, source=source)


def versions(session: Session) -> list[StoredProfile]:
    """Every stored version, by name then newest first."""
    return list(
        session.scalars(
            select(StoredProfile).order_by(StoredProfile.name, StoredProfile.version.desc())
        )
    )


@dataclass(frozen=True)
class PreviewLine:
    """One requirement of a profile, in words (what the candidate's computer must show)."""

    area: str
    metric: str
    label: str
    required: bool  # False: "recommended", a miss only warns
    limit: str  # e.g. "at least 10 Mbit/s (ideally 25+)"
    advice: str


def preview(profile: Profile) -> list[PreviewLine]:
    lines = []
    for requirement in profile.requirements:
        info = metrics.BY_ID.get(requirement.metric)
        lines.append(
            PreviewLine(
                area=metrics.area(requirement.metric),
                metric=requirement.metric,
                label=requirement.label,
                required=requirement.level.value == "required",
                limit=requirement.describe(info.unit if info else "") or "reported, not judged",
                advice=requirement.advice,
            )
        )
    return lines
