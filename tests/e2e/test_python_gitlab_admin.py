"""python-gitlab sets up a registry from nothing against a real server: groups, a subgroup,
a project, a user and every kind of token, each checked by using it."""

from __future__ import annotations

import gitlab
import pytest
from gitlab.const import AccessLevel

from tests.e2e.server import Server


def test_python_gitlab_sets_up_a_registry_from_nothing(server: Server) -> None:
    gl = gitlab.Gitlab(server.base_url, private_token=server.token)
    gl.auth()
    assert gl.user is not None and gl.user.username == "root" and gl.user.is_admin
    version, revision = gl.version()
    assert version.count(".") == 2 and revision.startswith("cargobay-")

    group = gl.groups.create({"name": "Acme", "path": "acme"})
    sub = gl.groups.create({"name": "Tools", "path": "tools", "parent_id": group.id})
    assert sub.full_path == "acme/tools"
    assert [g.full_path for g in group.subgroups.list(get_all=True)] == ["acme/tools"]
    project = gl.projects.create(
        {"name": "CLI", "namespace_id": sub.id, "package_registry_access_level": "private"}
    )
    assert project.path_with_namespace == "acme/tools/cli"
    assert gl.projects.get("acme/tools/cli").id == project.id

    # A user with a personal access token, made a Developer of the project.
    user = gl.users.create(
        {
            "username": "alice",
            "name": "Alice",
            "email": "alice@example.com",
            "password": "correct horse battery",
            "skip_confirmation": True,
        }
    )
    pat = user.personal_access_tokens.create({"name": "laptop", "scopes": ["api"]})
    project.members.create({"user_id": user.id, "access_level": AccessLevel.DEVELOPER})
    alice = gitlab.Gitlab(server.base_url, private_token=pat.token)
    alice.auth()
    assert alice.user is not None and alice.user.username == "alice"
    alice_project = alice.projects.get(project.id)
    alice_project.generic_packages.upload("cli", "1.0.0", "cli.bin", data=b"release bytes")
    member = project.members.get(user.id)
    assert member.access_level == AccessLevel.DEVELOPER

    # A project access token: a bot member of the project.
    project_token = project.access_tokens.create(
        {"name": "release-bot", "scopes": ["api"], "access_level": AccessLevel.DEVELOPER}
    )
    bot = gitlab.Gitlab(server.base_url, private_token=project_token.token)
    bot.auth()
    assert bot.user is not None and bot.user.bot is True
    assert bot.projects.get("acme/tools/cli").name == "CLI"
    assert [t.name for t in project.access_tokens.list(get_all=True)] == ["release-bot"]

    # A project deploy token that publishes, used the way CI scripts do (HTTP Basic).
    deploy = project.deploytokens.create(
        {"name": "uploader", "scopes": ["write_package_registry"], "username": "", "expires_at": ""}
    )
    as_deploy = gitlab.Gitlab(
        server.base_url, http_username=deploy.username, http_password=deploy.token
    )
    as_deploy.projects.get(project.id, lazy=True).generic_packages.upload(
        "cli", "1.0.1", "cli.bin", data=b"next release"
    )

    # A group deploy token that reads every project below the group.
    mirror = group.deploytokens.create({"name": "mirror", "scopes": ["read_package_registry"]})
    as_mirror = gitlab.Gitlab(
        server.base_url, http_username=mirror.username, http_password=mirror.token
    )
    downloaded = as_mirror.projects.get(project.id, lazy=True).generic_packages.download(
        "cli", "1.0.0", "cli.bin"
    )
    assert downloaded == b"release bytes"

    # Revoked and deleted tokens stop working at once.
    gl.personal_access_tokens.delete(pat.id)
    with pytest.raises(gitlab.GitlabAuthenticationError):
        alice.auth()
    project.access_tokens.delete(project_token.id)
    with pytest.raises(gitlab.GitlabAuthenticationError):
        bot.auth()
    project.deploytokens.delete(deploy.id)
    with pytest.raises(gitlab.GitlabAuthenticationError):
        as_deploy.projects.get(project.id, lazy=True).generic_packages.upload(
            "cli", "1.0.2", "cli.bin", data=b"refused"
        )
    assert [t.username for t in group.deploytokens.list(get_all=True)] == [mirror.username]


def test_python_gitlab_errors_are_gitlab_shaped(server: Server) -> None:
    gl = gitlab.Gitlab(server.base_url, private_token=server.token)
    gl.groups.create({"name": "Acme", "path": "acme"})
    with pytest.raises(gitlab.GitlabCreateError) as taken:
        gl.groups.create({"name": "Acme", "path": "acme"})
    assert taken.value.response_code == 400
    assert "has already been taken" in str(taken.value.error_message)
    with pytest.raises(gitlab.GitlabGetError) as missing:
        gl.projects.get("acme/nothing")
    assert missing.value.response_code == 404
    assert missing.value.error_message == "404 Project Not Found"
    anonymous = gitlab.Gitlab(server.base_url)
    assert anonymous.projects.list(get_all=True) == []
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(server.base_url, private_token="glpat-wrong").auth()
