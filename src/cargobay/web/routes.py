"""The web interface's URL table. GitLab's URL shapes where it has them (``/users/sign_in``,
``/<project>/-/packages/<id>``, ``/groups/<group>/-/packages``). Every POST route is
wrapped by ``protect`` (CSRF check); a test walks this table to make sure."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from cargobay.web import (
    account,
    admin,
    admin_registry,
    assets,
    create,
    explore,
    group_settings,
    members,
    packages,
    project_tokens,
    settings,
)
from cargobay.web.page import Endpoint, protect

PROJECT = "/{project:path}/-"
PACKAGE = PROJECT + "/packages/{package_id:row_id}"
FILE = PACKAGE + "/files/{file_id:row_id}"
SETTINGS = PROJECT + "/settings/packages_and_registries"
TOKENS = PROJECT + "/settings/access_tokens"
DEPLOY_TOKENS = PROJECT + "/settings/deploy_tokens"
MEMBERS = PROJECT + "/project_members"
GROUP_MEMBERS = "/groups/{group:path}/-/group_members"
GROUP_SETTINGS = "/groups/{group:path}/-/settings/packages_and_registries"


def post(path: str, endpoint: Endpoint) -> Route:
    return Route(path, protect(endpoint), methods=["POST"])


routes: list[BaseRoute] = [
    Route("/", explore.home),
    Route("/-/static/{name}", assets.serve),
    Route("/explore", explore.projects),
    Route("/explore/projects", explore.projects),
    Route("/explore/groups", explore.groups),
    Route("/users/sign_in", account.sign_in_page),
    post("/users/sign_in", account.sign_in_submit),
    post("/users/sign_out", account.sign_out),
    Route("/-/user_settings/personal_access_tokens", account.tokens_page),
    post("/-/user_settings/personal_access_tokens", account.create_token),
    post("/-/user_settings/personal_access_tokens/{token_id:row_id}/revoke", account.revoke_token),
    Route("/-/user_settings/password/edit", account.password_page),
    post("/-/user_settings/password", account.change_password),
    Route("/admin", explore.to_admin_users),
    Route("/admin/users", admin.users),
    post("/admin/users", admin.create_user),
    post("/admin/users/{user_id:row_id}/block", admin.block),
    post("/admin/users/{user_id:row_id}/unblock", admin.unblock),
    Route("/admin/registry", admin_registry.registry_page),
    post("/admin/registry/max_file_size", admin_registry.set_max_file_size),
    post("/admin/registry/features/{name}", admin_registry.set_flag),
    Route("/projects/new", create.new_project),
    post("/projects", create.create_project),
    Route("/groups/new", create.new_group),
    post("/groups", create.create_group),
    Route("/groups/{group:path}/-/packages", packages.group_packages),
    Route(GROUP_MEMBERS, members.members_page),
    post(GROUP_MEMBERS, members.add_member),
    post(GROUP_MEMBERS + "/{user_id:row_id}/role", members.change_role),
    post(GROUP_MEMBERS + "/{user_id:row_id}/remove", members.remove_member),
    Route(GROUP_SETTINGS, group_settings.group_settings),
    post(GROUP_SETTINGS + "/duplicates", group_settings.set_duplicates),
    Route("/groups/{group:path}", explore.group_page),
    Route(PROJECT + "/packages", packages.project_packages),
    Route(MEMBERS, members.members_page),
    post(MEMBERS, members.add_member),
    post(MEMBERS + "/{user_id:row_id}/role", members.change_role),
    post(MEMBERS + "/{user_id:row_id}/remove", members.remove_member),
    Route(PACKAGE, packages.package_page),
    Route(PACKAGE + "/delete", packages.confirm_delete_package),
    post(PACKAGE + "/delete", packages.delete_package),
    Route(FILE + "/delete", packages.confirm_delete_file),
    post(FILE + "/delete", packages.delete_file),
    Route(FILE + "/download", packages.download_file),
    Route(PACKAGE + "/{archive}", packages.download_archive),
    Route(TOKENS, project_tokens.tokens_page),
    post(TOKENS, project_tokens.create_access_token),
    post(TOKENS + "/{token_id:row_id}/revoke", project_tokens.revoke_access_token),
    post(DEPLOY_TOKENS, project_tokens.create_deploy_token),
    post(DEPLOY_TOKENS + "/{token_id:row_id}/revoke", project_tokens.revoke_deploy_token),
    Route(SETTINGS, settings.project_settings),
    post(SETTINGS + "/access_level", settings.set_access_level),
    post(SETTINGS + "/cleanup", settings.set_cleanup_policy),
    Route(SETTINGS + "/cleanup_preview", settings.cleanup_preview),
    post(SETTINGS + "/cleanup_preview", settings.preview_form),
    post(SETTINGS + "/cleanup_run", settings.cleanup_run),
    post(SETTINGS + "/protection", settings.create_rule),
    post(SETTINGS + "/protection/{rule_id:row_id}/delete", settings.delete_rule),
    # Last: any other path may be a project or a group.
    Route("/{path:path}", explore.namespace_or_project),
]
