"""Profiles: what an employer requires, as TOML.

A profile file looks like::

    name = "voice"
    description = "Phone (VoIP) customer-service agent"

    [requirements."network.download_mbps"]
    level = "required"            # or "recommended": a miss only warns
    min = 10                      # fail below this
    warn_min = 25                 # warn below this
    advice = "Ask your provider for a faster plan, or use a wired connection."

Numbers take finite `min`, `max`, `warn_min`, `warn_max`; flags take `allowed = [true]` or
`[false]`; categories take `allowed = [...]` from the catalogue's values (homecheck/metrics.py);
free-text metrics (system.os) take no limit.
`label` is optional (the metric's catalogue label is used). Every mistake is reported as one
`ProfileError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from homecheck.errors import HomecheckError
from homecheck.metrics import BY_ID, Kind
from homecheck.model import Level, Profile, Requirement

BUILTIN = ("voice", "chat", "video")
DEFAULT = "voice"

_TOP_KEYS = {"name", "description", "requirements"}
_REQ_KEYS = {"level", "label", "advice", "min", "max", "warn_min", "warn_max", "allowed"}
_NUMBER_KEYS = ("min", "max", "warn_min", "warn_max")


class ProfileError(HomecheckError):
    """A profile that cannot be used. str() is the one line shown to the user."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("homecheck") / "profiles" / f"{name}.toml"))


def load(name_or_path: str) -> Profile:
    """A built-in profile by name, or a TOML file by path."""
    if name_or_path in BUILTIN:
        path = builtin_path(name_or_path)
        source = shown_as = f"builtin:{name_or_path}"
    else:
        path = Path(name_or_path)
        # Only the file name goes into reports: a full path can carry a user name.
        source, shown_as = path.name, name_or_path
        if not path.is_file():
            known = ", ".join(BUILTIN)
            raise ProfileError(
                name_or_path, None, f"no such profile file (built-in profiles: {known})"
            )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(str(path), None, f"cannot read: {exc.strerror}") from None
    return parse(data, source=source, shown_as=shown_as)


def parse(data: bytes, *, source: str, shown_as: str | None = None) -> Profile:
    where = shown_as or source
    try:
        text = data.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ProfileError(where, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(where, None, f"TOML syntax error: {exc}") from None

    for key in doc:
        if key not in _TOP_KEYS:
            raise ProfileError(where, key, f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    name = _string(doc, "name", where, "name", required=True)
    description = _string(doc, "description", where, "description", required=False)
    raw_requirements = doc.get("requirements")
    if not isinstance(raw_requirements, dict) or not raw_requirements:
        raise ProfileError(where, "requirements", "a profile needs at least one requirement")
    requirements = tuple(
        _requirement(metric, body, where) for metric, body in raw_requirements.items()
    )
    return Profile(
        name=name,
        description=description,
        requirements=requirements,
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
    )


def _string(table: dict[str, Any], key: str, where: str, path: str, *, required: bool) -> str:
    value = table.get(key)
    if value is None:
        if required:
            raise ProfileError(where, path, "missing (a text value is needed)")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProfileError(where, path, f"must be non-empty text, got {value!r}")
    return value


def _requirement(metric: str, body: Any, where: str) -> Requirement:
    key = f'requirements."{metric}"'
    info = BY_ID.get(metric)
    if info is None:
        raise ProfileError(where, key, f"unknown metric '{metric}' (see `homecheck probes`)")
    if not isinstance(body, dict):
        raise ProfileError(where, key, "must be a table of limits")
    for field in body:
        if field not in _REQ_KEYS:
            known = ", ".join(sorted(_REQ_KEYS))
            raise ProfileError(where, f"{key}.{field}", f"unknown key (allowed: {known})")

    level_text = body.get("level", Level.REQUIRED.value)
    try:
        level = Level(level_text)
    except ValueError:
        raise ProfileError(
            where, f"{key}.level", f"must be 'required' or 'recommended', got {level_text!r}"
        ) from None

    numbers: dict[str, float | None] = {}
    for field in _NUMBER_KEYS:
        value = body.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ProfileError(where, f"{key}.{field}", f"must be a number, got {value!r}")
        if value is not None and not math.isfinite(value):  # TOML has nan and inf
            raise ProfileError(where, f"{key}.{field}", f"must be a finite number, got {value!r}")
        numbers[field] = None if value is None else float(value)

    allowed_raw = body.get("allowed", [])
    if not isinstance(allowed_raw, list) or not all(isinstance(v, bool | str) for v in allowed_raw):
        raise ProfileError(where, f"{key}.allowed", "must be a list of true/false or text values")
    allowed: tuple[bool | str, ...] = tuple(allowed_raw)

    has_numbers = any(v is not None for v in numbers.values())
    if info.kind is Kind.TEXT:
        raise ProfileError(
            where, key, "this metric is free text, shown in the report but not a limit"
        )
    if info.kind is Kind.NUMBER:
        if allowed:
            raise ProfileError(where, f"{key}.allowed", "this metric is a number: use min/max")
        if not has_numbers:
            raise ProfileError(where, key, "give at least one of min, max, warn_min, warn_max")
    else:
        if has_numbers:
            given = next(f for f in _NUMBER_KEYS if numbers[f] is not None)
            raise ProfileError(
                where, f"{key}.{given}", f"this metric is a {info.kind.value}: use allowed = [...]"
            )
        if not allowed:
            raise ProfileError(where, f"{key}.allowed", "missing: list the acceptable values")
        wanted = bool if info.kind is Kind.FLAG else str
        if not all(type(v) is wanted for v in allowed):
            kind = "true/false" if wanted is bool else "text"
            raise ProfileError(where, f"{key}.allowed", f"values must be {kind}")
        unknown = [v for v in allowed if info.kind is Kind.CATEGORY and v not in info.values]
        if unknown:
            raise ProfileError(
                where,
                f"{key}.allowed",
                f"unknown value {unknown[0]!r} (known: {', '.join(info.values)})",
            )

    lo, hi, warn_lo, warn_hi = (numbers[f] for f in _NUMBER_KEYS)
    if lo is not None and hi is not None and lo > hi:
        raise ProfileError(where, key, f"min ({lo:g}) is greater than max ({hi:g})")
    if lo is not None and warn_lo is not None and warn_lo < lo:
        raise ProfileError(where, f"{key}.warn_min", f"({warn_lo:g}) is below min ({lo:g})")
    if hi is not None and warn_hi is not None and warn_hi > hi:
        raise ProfileError(where, f"{key}.warn_max", f"({warn_hi:g}) is above max ({hi:g})")

    label = _string(body, "label", where, f"{key}.label", required=False) or info.label
    advice = _string(body, "advice", where, f"{key}.advice", required=True)
    return Requirement(
        metric=metric,
        label=label,
        advice=advice,
        level=level,
        min=lo,
        max=hi,
        warn_min=warn_lo,
        warn_max=warn_hi,
        allowed=allowed,
    )
