"""The effective-role rule has two forms: Python (domain.roles, used by lists and
management) and SQL (storage.db.members.member_level, the download path's single
statement). A table of memberships, and both forms must give the same role."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cargobay.domain.models import Visibility, utcnow
from cargobay.domain.roles import Memberships
from cargobay.services import admin
from cargobay.services.registry import Registry
from cargobay.storage.db import members, namespaces

pytestmark = pytest.mark.anyio

# (memberships of the user: (kind, path, role, expired?), project path, expected role)
CASES = [
    ([], "a/b/p", 0),
    ([("group", "a", 30, False)], "a/b/p", 30),
    ([("group", "a/b", 20, False)], "a/b/p", 20),
    ([("group", "a/b", 20, False)], "a/q", 0),
    ([("group", "a", 10, False), ("group", "a/b", 40, False)], "a/b/p", 40),
    ([("group", "a", 50, False), ("project", "a/b/p", 20, False)], "a/b/p", 50),
    ([("project", "a/b/p", 40, False)], "a/b/p", 40),
    ([("project", "a/b/p", 40, False)], "a/q", 0),
    ([("group", "a", 50, True)], "a/b/p", 0),
    ([("group", "a", 50, True), ("group", "a/b", 10, False)], "a/b/p", 10),
    ([("project", "a/b/p", 30, True)], "a/b/p", 0),
    # "ab" is not above "a/..." even though "a" is a prefix of it
    ([("group", "ab", 50, False)], "a/b/p", 0),
    ([("group", "x", 30, False)], "a/b/p", 0),
]


@pytest.fixture
async def tree(registry: Registry) -> Registry:
    await admin.create_group(registry, "a", visibility=Visibility.public)
    await admin.create_group(registry, "ab", visibility=Visibility.public)
    await admin.create_group(registry, "x", visibility=Visibility.public)
    await admin.create_group(registry, "b", parent="a", visibility=Visibility.public)
    await admin.create_project(registry, "a/b", "p")
    await admin.create_project(registry, "a", "q")
    return registry


@pytest.mark.parametrize(("held", "project_path", "expected"), CASES)
async def test_python_and_sql_agree(
    tree: Registry, held: list[tuple[str, str, int, bool]], project_path: str, expected: int
) -> None:
    user = await admin.create_user(tree, "u")
    today = utcnow().date()
    async with tree.db.write() as conn:
        for kind, path, role, expired in held:
            until: date | None = today - timedelta(days=1) if expired else None
            if kind == "group":
                group = await namespaces.find_namespace(conn, path)
                assert group is not None
                where = {"namespace_id": group.id}
            else:
                project = await namespaces.find_project(conn, path)
                assert project is not None
                where = {"project_id": project.id}
            await members.set_membership(
                conn, user_id=user.id, access_level=role, expires_at=until, now=utcnow(), **where
            )
    async with tree.db.read() as conn:
        target = await namespaces.find_project(conn, project_path)
        assert target is not None
        in_sql = await members.access_level(conn, user.id, target, today)
        mine = Memberships.of(await members.memberships(conn, user.id, today))
    assert (in_sql, mine.project_level(target.id, target.full_path)) == (expected, expected)
