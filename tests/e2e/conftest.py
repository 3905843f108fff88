from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server, make_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh server with its own data directory; ``server.token`` is root's API token."""
    srv = make_server(tmp_path)
    srv.token = srv.cli("admin", "bootstrap")  # type: ignore[attr-defined]
    srv.start()
    yield srv
    srv.stop()
