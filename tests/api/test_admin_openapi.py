"""Every management route carries its OpenAPI description, ready for api/openapi.py."""

from __future__ import annotations

from cargobay.api import admin
from cargobay.api.openapi import Op, served_operations


def test_every_management_route_is_described() -> None:
    served = served_operations(admin.routes)
    assert sorted(served - set(admin.OPENAPI)) == [], "describe these routes in api/admin.py"
    assert sorted(set(admin.OPENAPI) - served) == [], "api/admin.py describes missing routes"
    described = {key: Op(**spec) for key, spec in admin.OPENAPI.items()}
    assert all(op.summary.endswith(".") for op in described.values())
