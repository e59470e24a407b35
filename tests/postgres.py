"""A PostgreSQL server for the store tests, and a fresh database for each test.

The server is the one `YAKUBA_TEST_POSTGRES_DSN` names (`.ci/run` starts one with
`.ci/postgres.sh` and sets it); without it, one is started here with the same script when
PostgreSQL's binaries are installed. The DSN names a role that may create databases.
Each test gets its own database, copied from a template migrated once per run.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from bots.store.database import Database
from bots.store.migrations import MIGRATIONS, Migration
from bots.store.postgres import open_postgres

DSN_VARIABLE = "YAKUBA_TEST_POSTGRES_DSN"
SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "postgres.sh"


@dataclass(frozen=True)
class Server:
    """A server's admin DSN, or why there is none."""

    dsn: str = ""
    problem: str = ""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def binaries_installed() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/postgres")) or (
        shutil.which("pg_ctl") is not None and shutil.which("initdb") is not None
    )


#: in a LocalServer's folder: the test run (process id) that started it
OWNER_FILE = "owner.pid"


class LocalServer:
    """A throwaway server started with .ci/postgres.sh for this test run.

    Its files go to /dev/shm where there is one: creating a database per test is several
    times faster in memory than on a loaded disk. A run killed before it could stop its
    server leaves it running: the next run stops it."""

    def __init__(self, fallback: Path) -> None:
        shm = Path("/dev/shm")
        if shm.is_dir() and os.access(shm, os.W_OK):
            stop_abandoned(shm)
            self.folder = Path(tempfile.mkdtemp(prefix="yakuba-pg.", dir=shm))
        else:
            self.folder = fallback

    def start(self) -> str:
        (self.folder / OWNER_FILE).write_text(str(os.getpid()))
        done = _script("start", self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{SCRIPT.name} could not start PostgreSQL: {done.stderr.strip()}")
        return done.stdout.strip()

    def stop(self) -> None:
        _script("stop", self.folder)


def stop_abandoned(parent: Path) -> None:
    """Stop the servers of test runs that ended without stopping them (killed)."""
    for owner in parent.glob(f"yakuba-pg.*/{OWNER_FILE}"):
        try:
            pid = int(owner.read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            _script("stop", owner.parent)
        except (OSError, ValueError):
            continue  # unreadable, or alive under another user


def _script(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class PostgresDatabases:
    """Creates (and drops) one database per test on the server `admin_dsn` names."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self._prefix = f"yakuba_test_{os.getpid()}"
        self._names = itertools.count(1)
        self._template: str | None = None
        self._template_lock = asyncio.Lock()

    def dsn(self, name: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=name)

    async def _admin(self, sql: str) -> None:
        async with await psycopg.AsyncConnection.connect(self.admin_dsn, autocommit=True) as conn:
            await conn.execute(sql)

    async def _migrated_template(self) -> str:
        async with self._template_lock:
            if self._template is None:
                name = f"{self._prefix}_template"
                await self._admin(f"DROP DATABASE IF EXISTS {name}")
                await self._admin(f"CREATE DATABASE {name} TEMPLATE template0")
                db = await open_postgres(self.dsn(name))
                await db.close()
                self._template = name
            return self._template

    async def create(self, migrated: bool) -> str:
        """A new database: migrated with MIGRATIONS (a copy of the template), or empty."""
        template = await self._migrated_template() if migrated else "template0"
        name = f"{self._prefix}_{next(self._names)}"
        await self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name

    async def drop(self, name: str) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def finish(self) -> None:
        """Drop the template (at the end of the run, outside the event loop)."""
        if self._template is not None:
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self._template} WITH (FORCE)")


class StoreOpener:
    """Opens this test's database, on the backend the test runs on; again and again."""

    def __init__(self, backend: str, sqlite_path: Path, postgres: PostgresDatabases | None) -> None:
        self.backend = backend
        self._path = sqlite_path
        self._postgres = postgres
        self._name: str | None = None
        self._opened: list[Database] = []

    @property
    def error(self) -> type[Exception]:
        """What the driver raises for bad SQL (e.g. a broken migration)."""
        return psycopg.Error if self.backend == "postgresql" else sqlite3.Error

    async def __call__(self, migrations: Sequence[Migration] = MIGRATIONS) -> Database:
        if self._postgres is None:
            db = await Database.open(self._path, migrations)
        else:
            db = await open_postgres(await self.dsn(migrated=migrations is MIGRATIONS), migrations)
        self._opened.append(db)
        return db

    async def dsn(self, migrated: bool = True) -> str:
        """PostgreSQL: the DSN of this test's database (created on first use)."""
        assert self._postgres is not None, "a PostgreSQL test"
        if self._name is None:
            self._name = await self._postgres.create(migrated=migrated)
        return self._postgres.dsn(self._name)

    async def cleanup(self) -> None:
        for db in self._opened:
            await db.close()  # closing twice is harmless
        if self._postgres is not None and self._name is not None:
            await self._postgres.drop(self._name)
