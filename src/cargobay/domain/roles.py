"""A user's effective role, from their memberships: the one rule, in Python.

A member of a group holds their role in every subgroup and project below it; a project
member holds theirs in the project. The effective role is the highest that applies
(0: none). Expired memberships are left out by whoever reads them (the storage layer).
The same rule in SQL, for the download path's single statement, is
``storage.db.members.member_level``; tests/unit/test_roles.py checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def path_and_ancestors(full_path: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = full_path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def namespace_paths(project_full_path: str) -> list[str]:
    """Full paths of every namespace above a project: ``a/b/p`` -> ``a``, ``a/b``."""
    return path_and_ancestors(project_full_path)[:-1]


# One live membership: (project id, project full path, namespace full path, role); a
# project membership has the first two, a namespace membership the third.
MembershipRow = tuple[int | None, str | None, str | None, int]


@dataclass(frozen=True, slots=True)
class Memberships:
    """A user's unexpired direct memberships: namespaces by full path, projects by id
    (with the project's full path, so groups above it count as visible)."""

    namespaces: dict[str, int] = field(default_factory=dict)
    projects: dict[int, tuple[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[MembershipRow]) -> Memberships:
        found = cls()
        for project_id, project_path, namespace_path, level in rows:
            if namespace_path is not None:
                found.namespaces[namespace_path] = max(
                    level, found.namespaces.get(namespace_path, 0)
                )
            elif project_id is not None and project_path is not None:
                _, before = found.projects.get(project_id, ("", 0))
                found.projects[project_id] = (project_path, max(level, before))
        return found

    def project_level(self, project_id: int, full_path: str) -> int:
        """The role on a project: its own membership, or one of a group above it."""
        levels = [self.namespaces.get(path, 0) for path in namespace_paths(full_path)]
        direct = self.projects.get(project_id)
        if direct is not None:
            levels.append(direct[1])
        return max(levels, default=0)

    def group_level(self, full_path: str) -> int:
        """The role inherited from the group itself or any group above it."""
        return max((self.namespaces.get(p, 0) for p in path_and_ancestors(full_path)), default=0)

    def inside(self, full_path: str) -> bool:
        """A membership somewhere below the group (a subgroup or a project in it): GitLab
        lets such members see the group itself."""
        below = full_path + "/"
        return any(p.startswith(below) for p in self.namespaces) or any(
            p.startswith(below) for p, _ in self.projects.values()
        )

    def group_paths(self) -> set[str]:
        """Namespaces the user reaches directly, and the direct namespace of each project
        they are a member of (GitLab's authorized groups)."""
        parents = {p.rpartition("/")[0] for p, _ in self.projects.values()}
        return set(self.namespaces) | parents
