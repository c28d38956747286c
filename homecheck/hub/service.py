"""The hub a serve process runs: its store (migrated) and its signing key (published).

`start` is what `homecheck serve --db URL` calls once at start. Every public key of this data
folder (current and rotated out) goes into the store's `signing_keys`, so the web plane of any
process sharing the database publishes every key any of them signed with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from homecheck.hub import keys, receipts
from homecheck.hub.models import SigningKeyRow
from homecheck.hub.store import Store, data_dir, open_store


@dataclass(frozen=True)
class Hub:
    store: Store
    key: keys.SigningKey

    def close(self) -> None:
        self.store.close()


def start(db_url: str | None, key_dir: Path | None = None) -> Hub:
    store = open_store(db_url)
    folder = key_dir or data_dir()
    key = keys.load_or_create(folder)
    publish(store, keys.public_keys(folder))
    return Hub(store, key)


def publish(store: Store, public: dict[str, Any]) -> None:
    with store.sessions.begin() as session:
        known = set(session.scalars(select(SigningKeyRow.key_id)))
        for kid, key in public.items():
            if kid not in known:
                session.add(
                    SigningKeyRow(key_id=kid, public_key=receipts.b64(receipts.raw_public(key)))
                )


def published_keys(store: Store) -> dict[str, Any]:
    """The JSON the web plane serves at WELL_KNOWN_KEYS (homecheck.hub.routes)."""
    with store.sessions() as session:
        rows = session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at))
        return {"keys": [{"key_id": r.key_id, "public_key": r.public_key} for r in rows]}
