"""A small registry world built through the real admin services: a group with a
subgroup, public and private projects, users at every role and a token for each."""

from __future__ import annotations

from dataclasses import dataclass, field

from cargobay.domain.models import AccessLevel, Project, RegistryAccess, Visibility
from cargobay.services import admin
from cargobay.services.registry import Registry


@dataclass
class World:
    registry: Registry
    public: Project
    private: Project
    tokens: dict[str, str] = field(default_factory=dict)  # role name -> PAT

    @classmethod
    async def create(cls, registry: Registry) -> World:
        await admin.create_group(registry, "acme", visibility=Visibility.public)
        await admin.create_group(registry, "team", parent="acme", visibility=Visibility.public)
        public = await admin.create_project(
            registry, "acme/team", "public-proj", visibility=Visibility.public
        )
        private = await admin.create_project(registry, "acme/team", "private-proj")
        world = cls(registry, public, private)
        for role in ("guest", "reporter", "developer", "maintainer", "owner"):
            await admin.create_user(registry, role)
            await admin.add_member(
                registry, role, access_level=AccessLevel[role.upper()], group="acme"
            )
            world.tokens[role] = (
                await admin.create_personal_access_token(registry, role, name="t", scopes=["api"])
            ).token
        await admin.create_user(registry, "stranger")
        world.tokens["stranger"] = (
            await admin.create_personal_access_token(registry, "stranger", name="t", scopes=["api"])
        ).token
        await admin.create_user(registry, "admin", is_admin=True)
        world.tokens["admin"] = (
            await admin.create_personal_access_token(registry, "admin", name="t", scopes=["api"])
        ).token
        return world

    def headers(self, role: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.tokens[role]}

    async def project(
        self,
        path: str,
        *,
        visibility: Visibility = Visibility.private,
        registry_access: RegistryAccess = RegistryAccess.enabled,
    ) -> Project:
        return await admin.create_project(
            self.registry, "acme/team", path, visibility=visibility, registry_access=registry_access
        )

    async def token(self, role: str, scopes: list[str]) -> str:
        return (
            await admin.create_personal_access_token(
                self.registry, role, name="scoped", scopes=scopes
            )
        ).token

    async def deploy_token(self, project: Project, scopes: list[str]) -> str:
        return (
            await admin.create_deploy_token(
                self.registry, name="d", scopes=scopes, project=project.id
            )
        ).token

    async def job(self, project: Project, user: str = "developer") -> admin.StartedJob:
        return await admin.start_job(self.registry, project.id, user=user)
