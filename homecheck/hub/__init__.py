"""The employer hub: invites, collected reports and the receipts that make them trustworthy.

Split by reason to change (healthchecks' `hc/api` and management commands are the model):
- `receipts`: the canonical JSON encoding, signing and offline verification (no database; the
  candidate's plain install imports it for `homecheck verify`);
- `keys`: the server's Ed25519 signing keys in its data folder, and their rotation;
- `models`, `store`, `migrations/`: the SQLAlchemy tables, the engine, and Alembic's scripts;
- `invites`, `accounts`, `profile_store`: what `homecheck admin` creates;
- `corroboration`: the client's figures against the server's own observations (pure);
- `ingest`: a submission in, a receipt or a refusal out (no HTTP);
- `candidates`: the list, deletion and retention;
- `admin`, `verify`: the commands; `routes`: the handlers the web plane mounts.

Nothing here is imported by `homecheck run`; this package's `__init__` imports nothing, so
`homecheck verify` loads only `receipts` and `cryptography`.
"""
