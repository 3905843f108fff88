"""Shared fixtures: the settings of a fresh registry on each backend configuration
(tests/backends.py: SQLite + local directory, PostgreSQL + S3), the in-process app behind
an httpx client, and helpers to create a world of users, projects and tokens through the
real admin services.

``pytest -k sqlite-local`` or ``-k pg-s3`` runs one configuration; PostgreSQL and
SeaweedFS start only when a test needs them, once per session."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cargobay.app import create_app
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.storage.db.migrate import upgrade
from tests.backends import BACKENDS, PostgresCluster, SeaweedS3
from tests.world import World


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "cargobay.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    server = SeaweedS3.start()
    yield server
    server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): run only on these backend configurations (tests/backends.py), "
        "for a test that looks inside one of them (a SQLite file, a local directory)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = list(marker.args) if marker else list(BACKENDS)
        metafunc.parametrize("backend", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """The backend configuration a test runs on: every test that uses a registry runs on
    each (``@pytest.mark.backends(...)`` narrows that). Module-scoped, so a
    module-scoped server can run on it too."""
    return str(request.param)


@pytest.fixture(scope="module")
def module_backend_env(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """``backend_env`` for module-scoped fixtures: one database and prefix per module."""
    yield from _backend_env(backend, request)


@pytest.fixture
def backend_env(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings (as ``CARGOBAY_<NAME>`` values, keys lower case) that put a fresh
    registry on ``backend``: an empty database and a new key prefix per test. Empty for
    the embedded default, which lives in the data directory."""
    yield from _backend_env(backend, request)


def _backend_env(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if backend == "sqlite-local":
        yield {}
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    s3: SeaweedS3 = request.getfixturevalue("seaweed")
    database = cluster.fresh_database()
    yield {"database_url": database, **s3.settings(s3.fresh_prefix())}
    cluster.recycle(database)


@pytest.fixture
def settings(tmp_path: Path, template_db: Path, backend_env: dict[str, str]) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    if backend_env:
        return Settings(data_dir=data, **backend_env)  # type: ignore[arg-type]
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
