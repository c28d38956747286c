"""A throwaway PostgreSQL server for the hub's tests and benchmarks: Debian's binaries, initdb +
pg_ctl in a temporary folder, listening on 127.0.0.1 and a free port, trusted local access,
fsync off (nothing in it outlives the run), removed on `stop()`. As root, initdb refuses to run:
the server then runs as the `postgres` system user (runuser; Debian's package makes that user).

    with TempPostgres.start() as pg:
        url = pg.fresh_database()     # postgresql://postgres@127.0.0.1:PORT/hub_test_0
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from homecheck.hub import store


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    return found[-1] if found else shutil.which(name)


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TempPostgres:
    port: int
    folder: Path
    pg_ctl: str
    as_user: list[str]
    names: Iterator[int] = field(default_factory=itertools.count)
    template: str | None = None  # a database already migrated, copied for each new one

    @classmethod
    def start(cls, prefix: Sequence[str] = ()) -> TempPostgres:
        """initdb + pg_ctl start; PostgresUnavailable with the reason when it cannot. `prefix`
        goes before the commands (`ip netns exec NS`: the server then listens in that
        namespace)."""
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise PostgresUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
        as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("runuser is missing (to run initdb as postgres)")
            if not _user_exists("postgres"):
                raise PostgresUnavailable("no postgres user (Debian's postgresql package makes it)")
            as_user = ["runuser", "-u", "postgres", "--"]
        as_user = [*prefix, *as_user]
        folder = Path(tempfile.mkdtemp(prefix="homecheck-pg-"))
        if as_user:
            shutil.chown(folder, "postgres")
        data = folder / "data"
        port = _free_port()
        done = subprocess.run(
            [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-300:]}")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
        started = subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
             "-t", "60", "start"],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        server = cls(port, folder, pg_ctl, as_user)
        if started.returncode != 0:
            server.stop()
            raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()[-300:]}")
        return server

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.folder / "data"), "-m", "fast", "-w",
             "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fresh_database(self, *, migrated: bool = True) -> str:
        """A new database; `migrated` copies the migrated template (CREATE DATABASE ... TEMPLATE,
        a file copy inside the server), so each one does not pay for the migrations again."""
        name = f"hub_test_{next(self.names)}"
        if migrated and self.template is None:
            self.template = "hub_template"
            self._create(self.template, None)
            store.open_store(self.url(self.template)).close()
        self._create(name, self.template if migrated else None)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _create(self, name: str, template: str | None) -> None:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
