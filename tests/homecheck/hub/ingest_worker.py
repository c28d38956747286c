"""One process of a multi-process ingest test: start the hub, wait for "go" on stdin (so every
process is ready before any submits), ingest one report with the observations another process
recorded for its test session, and print its receipt as JSON.

python -m tests.homecheck.hub.ingest_worker DB_URL KEY_DIR SECRET SESSION RUN"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from homecheck.hub import ingest, receipts, service
from tests.homecheck.hub.conftest import report_body


def main() -> int:
    db_url, key_dir, secret, session_id, run = sys.argv[1:6]
    hub = service.start(db_url, key_dir=Path(key_dir))
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        receipt = ingest.ingest(
            hub.store, hub.key, invite_secret=receipts.unb64(secret), session_id=session_id,
            body=report_body(int(run)), observations=None, client_address=None,
        )  # fmt: skip
    except ingest.Refusal as refusal:
        print(json.dumps({"refused": refusal.reason.name}), flush=True)
        return 1
    finally:
        hub.close()
    print(json.dumps(receipt.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
