from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server
from tests.e2e.server import make_server as new_server


@pytest.fixture
def make_server(tmp_path: Path, backend_env: dict[str, str]) -> Callable[..., Server]:
    """``make_server(tmp=tmp_path, **settings)``: a server on this test's backend
    (tests/backends.py). Servers made in one test share its database and blob store, as
    the nodes of one scale-out install do."""

    def make(tmp: Path | None = None, **settings: str) -> Server:
        tmp = tmp or tmp_path
        tmp.mkdir(parents=True, exist_ok=True)
        return new_server(tmp, **{**backend_env, **settings})

    return make


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Iterator[Server]:
    """A fresh server on this test's backend; ``server.token`` is root's API token."""
    srv = make_server()
    srv.token = srv.cli("admin", "bootstrap")
    srv.start()
    yield srv
    srv.stop()
