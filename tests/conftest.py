"""Shared fixtures: a migrated SQLite database per test (copied from a template migrated
once), the in-process app behind an httpx client, and helpers to create a world of users,
projects and tokens through the real admin services."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cargobay.app import create_app
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.storage.db.migrate import upgrade
from tests.world import World


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "cargobay.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, template_db: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(template_db, data / "cargobay.db")
    return Settings(data_dir=data, database_url=f"sqlite:///{data / 'cargobay.db'}")


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[Registry]:
    core = open_registry(settings)
    yield core
    await core.close()


@pytest.fixture
async def client(registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry.settings, registry)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cargobay.test") as c:
        yield c


@pytest.fixture
async def world(registry: Registry) -> World:
    return await World.create(registry)
