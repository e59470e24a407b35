"""Fixtures for unit tests: a real store, on a temporary SQLite file or, in modules marked
`pytest.mark.postgresql`, also on a fresh PostgreSQL database (tests/postgres.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bots.store.database import Database
from tests.postgres import (
    DSN_VARIABLE,
    LocalServer,
    PostgresDatabases,
    Server,
    StoreOpener,
    binaries_installed,
    in_ci,
)

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Store tests in modules marked `postgresql` run once per backend."""
    if "store_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "postgresql"
    ):
        metafunc.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server the environment names, or one started for this run if PostgreSQL is
    installed; else `Server.problem` says why there is none."""
    dsn = os.environ.get(DSN_VARIABLE, "")
    if dsn:
        yield Server(dsn)
        return
    if not binaries_installed():
        yield Server(
            problem=f"no PostgreSQL server: set {DSN_VARIABLE} (.ci/postgres.sh starts one)"
            " or install Debian's postgresql package"
        )
        return
    local = LocalServer(tmp_path_factory.mktemp("postgres"))
    try:
        dsn = local.start()
    except RuntimeError as exc:
        yield Server(problem=str(exc))
        return
    try:
        yield Server(dsn)
    finally:
        local.stop()


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: Server) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server.dsn)
    yield databases
    databases.finish()


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """The backend: sqlite, or postgresql for the second run of a module so marked."""
    backend: str = getattr(request, "param", "sqlite")
    if backend == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        if server.problem:
            if in_ci():  # CI must test both backends: a skip there would hide a gap
                pytest.fail(server.problem)
            pytest.skip(server.problem)
    return backend


@pytest.fixture
async def open_db(
    store_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StoreOpener]:
    """Opens this test's database (the same one each time), on the test's backend."""
    postgres: PostgresDatabases | None = None
    if store_backend == "postgresql":  # SQLite-only runs start no server
        postgres = request.getfixturevalue("postgres_databases")
    opener = StoreOpener(store_backend, tmp_path / "yakuba.db", postgres)
    yield opener
    await opener.cleanup()


@pytest.fixture
async def db(open_db: StoreOpener) -> AsyncIterator[Database]:
    database = await open_db()
    yield database
    await database.close()
