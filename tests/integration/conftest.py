"""A real Synapse for the whole test run (matrix-synapse from PyPI, loopback, SQLite)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SynapseProcess]:
    state: Path = tmp_path_factory.mktemp("synapse")
    process = SynapseProcess(SynapseConfig(state_dir=state, port=free_port()))
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


@pytest.fixture(scope="session")
async def admin_token(synapse: SynapseProcess) -> str:
    login = await synapse.register("admin", secrets.token_urlsafe(16), admin=True)
    return str(login["access_token"])


# the appservice world (its own Synapse with the registration), started when first used
from tests.integration.bridge import bridge  # noqa: E402,F401
