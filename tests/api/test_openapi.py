from __future__ import annotations

import httpx
import pytest

from cargobay.api.openapi import OPERATIONS, served_operations
from cargobay.api.routes import routes

pytestmark = pytest.mark.anyio


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    served = served_operations(routes)
    documented = set(OPERATIONS)
    assert sorted(served - documented) == [], "routes missing from api/openapi.py"
    assert sorted(documented - served) == [], "api/openapi.py names routes that do not exist"


async def test_the_server_serves_the_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v4/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    upload = doc["paths"][
        "/api/v4/projects/{id}/packages/generic/{package_name}/{package_version}/{file_path}"
    ]["put"]
    assert {p["name"] for p in upload["parameters"]} >= {"id", "package_name", "status", "select"}
