"""A registry for the browser tests, built before the server starts (through the real
admin services, as an administrator would) and filled with packages over HTTP afterwards
(as clients would).

    acme (public group)                   secret (private group)
      acme/tools/cli (public project)       secret/vault (private project)
      acme/internal (private project)

Users: root (administrator), alice (Maintainer of acme), bob (Reporter of acme),
carol (no memberships). Everyone's password is ``<username>-password``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from cargobay.domain.models import AccessLevel, Visibility
from cargobay.services import admin, sign_in
from cargobay.services.registry import open_registry
from cargobay.settings import Settings
from cargobay.storage.db.migrate import upgrade
from tests.e2e.server import Server

USERS = {"root": None, "alice": AccessLevel.MAINTAINER, "bob": AccessLevel.REPORTER, "carol": None}


def password(username: str) -> str:
    return f"{username}-password"


@dataclass
class World:
    server: Server
    tokens: dict[str, str] = field(default_factory=dict)
    projects: dict[str, int] = field(default_factory=dict)
    job_token: str = ""  # a running CI job of acme/tools/cli, run by alice
    contents: dict[str, bytes] = field(default_factory=dict)  # "name/version/file" -> body

    def api(self, user: str = "root") -> httpx.Client:
        return httpx.Client(
            base_url=self.server.api, headers={"PRIVATE-TOKEN": self.tokens[user]}, timeout=30
        )

    def publish(
        self,
        project: str,
        name: str,
        version: str,
        file_name: str,
        body: bytes,
        *,
        status: str | None = None,
        job_token: str | None = None,
    ) -> None:
        url = (
            f"{self.server.api}/projects/{self.projects[project]}/packages/generic/"
            f"{name}/{version}/{file_name}"
        )
        headers = {"JOB-TOKEN": job_token} if job_token else {"PRIVATE-TOKEN": self.tokens["root"]}
        response = httpx.put(
            url, content=body, headers=headers, params={"status": status} if status else None
        )
        assert response.status_code == 201, response.text
        self.contents[f"{name}/{version}/{file_name}"] = body

    def populate(self) -> None:
        """The packages every test module starts with."""
        cli = "acme/tools/cli"
        for version in ("1.0.0", "1.1.0", "2.0.0"):
            self.publish(cli, "tool", version, "tool.tar.gz", f"tool {version}\n".encode() * 50)
        self.publish(cli, "tool", "1.0.0", "checksums.txt", b"sha256 of everything\n")
        self.publish(cli, "libwidget", "0.3.1", "libwidget.so", b"\x7fELF" + bytes(range(256)))
        self.publish(cli, "secret-build", "0.9", "hidden.bin", b"not listed", status="hidden")
        self.publish(
            cli, "built-by-ci", "3.0", "artifact.zip", b"PK\x03\x04", job_token=self.job_token
        )
        self.publish(cli, "doomed", "1.0", "a.bin", b"first file")
        self.publish(cli, "doomed", "1.0", "b.bin", b"second file")
        self.publish(cli, "doomed", "2.0", "a.bin", b"other version")
        self.publish("acme/internal", "internal-lib", "2.0", "lib.so", b"internal")
        self.publish("secret/vault", "vault-agent", "1.0", "agent", b"secret")


async def _build(settings: Settings) -> tuple[dict[str, str], dict[str, int]]:
    registry = open_registry(settings)
    try:
        tokens: dict[str, str] = {}
        for username in USERS:
            if username == "root":
                token = await admin.bootstrap(registry)
                assert token is not None
                tokens[username] = token
            else:
                await admin.create_user(registry, username, name=username.title())
                tokens[username] = (
                    await admin.create_personal_access_token(
                        registry, username, name="setup", scopes=["api"]
                    )
                ).token
            await sign_in.set_password(registry, username, password(username))
        await admin.create_group(registry, "acme", name="ACME Corp", visibility=Visibility.public)
        await admin.create_group(registry, "tools", parent="acme", visibility=Visibility.public)
        await admin.create_group(registry, "secret", visibility=Visibility.private)
        projects = {
            "acme/tools/cli": await admin.create_project(
                registry, "acme/tools", "cli", name="CLI", visibility=Visibility.public
            ),
            "acme/internal": await admin.create_project(registry, "acme", "internal"),
            "secret/vault": await admin.create_project(registry, "secret", "vault"),
        }
        for username, role in USERS.items():
            if role is not None:
                await admin.add_member(registry, username, access_level=role, group="acme")
        job = await admin.start_job(registry, "acme/tools/cli", user="alice", ref="release")
        tokens["job"] = job.token
        return tokens, {path: p.id for path, p in projects.items()}
    finally:
        await registry.close()


def _build_in_thread(settings: Settings) -> tuple[dict[str, str], dict[str, int]]:
    upgrade(settings.resolved_database_url())
    return asyncio.run(_build(settings))


def build(server: Server) -> World:
    """Run in a thread of its own: Playwright's sync API keeps an event loop running in
    the test thread, where asyncio.run() is not allowed."""
    settings = Settings(data_dir=server.data_dir)
    with ThreadPoolExecutor(1) as pool:
        tokens, projects = pool.submit(_build_in_thread, settings).result()
    return World(server, tokens, projects, job_token=tokens.pop("job"))
