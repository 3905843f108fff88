"""Everyday management in the browser, as GitLab users do it: create a project and a
group, deploy tokens and project access tokens (shown once, used, revoked), and a member
added with a role who then publishes. Each test at a desktop and a phone width."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser import sizes
from tests.browser.conftest import Visit
from tests.browser.pages import accessibility_problems, overflows_horizontally
from tests.browser.sizes import focused_id, width_of
from tests.browser.world import World

tab = sizes.tab  # each test at both widths


def _put(site: World, project: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.put(
        f"{site.server.api}/projects/{project.replace('/', '%2F')}/packages/generic/{path}",
        content=b"payload",
        headers=headers,
    )


def _create_project(page: Page, name: str, namespace: str) -> None:
    page.get_by_label("Project name").fill(name)
    page.get_by_label("Namespace").select_option(label=namespace)
    page.get_by_role("button", name="Create project").click()


def _new_token(page: Page) -> str:
    expect(page.get_by_role("heading", name="Your new")).to_be_visible()
    token: str = page.locator("#new-token").inner_text().strip()
    return token


def test_create_a_project_and_a_group(tab: Visit) -> None:
    width = width_of(tab)
    tab.sign_in("alice")  # Maintainer of acme
    page = tab.go("/explore")
    page.get_by_role("link", name="New project").click()
    _create_project(page, f"Widgets {width}", "acme")
    expect(page.get_by_role("status")).to_have_text(f"Project acme/widgets-{width} created.")
    expect(page.get_by_role("heading", name=f"Widgets {width}")).to_be_visible()
    assert page.url.endswith(f"/acme/widgets-{width}/-/packages")
    tab.screenshot(f"new-project-{width}")

    # The same name again: refused beside the field, what was typed kept.
    page = tab.go("/projects/new")
    _create_project(page, f"Widgets {width}", "acme")
    name = page.get_by_label("Project name")
    expect(name).to_have_value(f"Widgets {width}")
    expect(page.locator("#project-name-error")).to_have_text("Name has already been taken")
    expect(page.get_by_label("Namespace")).to_have_value(
        page.get_by_label("Namespace").evaluate(
            "s => [...s.options].find(o => o.text === 'acme').value"
        )
    )
    assert focused_id(page) == "project-name"
    assert accessibility_problems(page) == []
    assert not overflows_horizontally(page)

    # Groups: Bob (a Reporter of acme) makes a top-level group of his own, not a subgroup.
    tab.context.clear_cookies()
    tab.sign_in("bob")
    page = tab.go("/groups/new")
    page.get_by_label("Group name").fill(f"Bob group {width}")
    page.get_by_label("Group path").fill(f"bobs-{width}")
    page.get_by_label("Parent group").select_option(label="acme")
    page.get_by_role("button", name="Create group").click()
    expect(page.locator("form .flash-error")).to_contain_text("permission")
    expect(page.get_by_label("Group path")).to_have_value(f"bobs-{width}")
    page.get_by_label("Parent group").select_option(label="None: a top-level group")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("status")).to_have_text(f"Group bobs-{width} created.")
    page.get_by_role("link", name="New project").click()
    _create_project(page, "Tools", f"bobs-{width}")
    expect(page.get_by_role("status")).to_have_text(f"Project bobs-{width}/tools created.")


def test_deploy_and_project_access_tokens(tab: Visit, site: World) -> None:
    width = width_of(tab)
    project = f"acme/tokens-{width}"
    tab.sign_in("alice")
    _create_project(tab.go("/projects/new"), f"tokens-{width}", "acme")
    page = tab.go(f"/{project}/-/packages")
    page.get_by_role("link", name="Project tokens").click()

    # A deploy token that may publish: shown once, works, then revoked.
    deploy = page.locator("#deploy-tokens")
    deploy.get_by_label("Deploy token name").fill("uploader")
    deploy.get_by_label("Username (optional)").fill(f"robot-{width}")
    deploy.get_by_label("write_package_registry").check()
    deploy.get_by_role("button", name="Create deploy token").click()
    secret = _new_token(page)
    assert secret.startswith("gldt-")
    expect(page.locator("#deploy-tokens tbody tr")).to_contain_text(f"robot-{width}")
    assert accessibility_problems(page) == []
    assert not overflows_horizontally(page)
    tab.screenshot(f"project-tokens-{width}")
    published = _put(site, project, "bin/1.0/a.bin", {"Deploy-Token": secret})
    assert published.status_code == 201, published.text

    page = tab.go(f"/{project}/-/settings/access_tokens")
    expect(page.locator("#new-token")).to_have_count(0)  # never shown again
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke uploader").click()
    expect(page.get_by_role("status")).to_have_text("The deploy token was revoked.")
    assert _put(site, project, "bin/1.1/a.bin", {"Deploy-Token": secret}).status_code == 401

    # A project access token with the Developer role publishes too.
    bots = page.locator("#project-access-tokens")
    bots.get_by_label("Token name").fill("ci bot")
    bots.get_by_label("Role").select_option(label="Developer")
    bots.get_by_role("button", name="Create project access token").click()
    secret = _new_token(page)
    assert secret.startswith("glpat-")
    assert _put(site, project, "bin/2.0/a.bin", {"PRIVATE-TOKEN": secret}).status_code == 201
    expect(page.locator("#project-access-tokens tbody tr")).to_contain_text("Developer")

    # No scope: refused beside the scopes, the name kept.
    bots = page.locator("#project-access-tokens")
    bots.get_by_label("Token name").fill("no scopes")
    page.locator("#bot-scope-api").uncheck()
    bots.get_by_role("button", name="Create project access token").click()
    expect(page.locator("#bot-scopes-error")).to_have_text("Choose at least one scope.")
    expect(page.locator("#project-access-tokens").get_by_label("Token name")).to_have_value(
        "no scopes"
    )

    # Reporters of the group see no token page.
    tab.context.clear_cookies()
    tab.sign_in("bob")
    page = tab.go(f"/{project}/-/settings/access_tokens")
    expect(
        page.get_by_role("heading", name="You do not have permission to do that")
    ).to_be_visible()


def test_a_member_added_with_a_role_then_publishes(tab: Visit, site: World) -> None:
    width = width_of(tab)
    project = f"acme/team-{width}"
    carol = {"PRIVATE-TOKEN": site.tokens["carol"]}
    tab.sign_in("alice")
    _create_project(tab.go("/projects/new"), f"team-{width}", "acme")
    assert _put(site, project, "x/1.0/x.bin", carol).status_code == 404  # cannot see it

    page = tab.go(f"/{project}/-/packages")
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username").fill("nobody-here")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#member-username-error")).to_contain_text("User Not Found")
    expect(page.get_by_label("Username")).to_have_value("nobody-here")
    assert focused_id(page) == "member-username"

    page.get_by_label("Username").fill("carol")
    page.get_by_label("Role", exact=True).select_option(label="Developer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_have_text("carol is now a Developer here.")
    row = page.locator("tbody tr", has_text="@carol")
    expect(row.get_by_label("Role of carol")).to_have_value("30")
    expect(page.locator("tbody tr", has_text="@bob")).to_contain_text("inherited")
    assert accessibility_problems(page) == []
    assert not overflows_horizontally(page)
    tab.screenshot(f"project-members-{width}")
    assert _put(site, project, "x/1.0/x.bin", carol).status_code == 201

    row.get_by_label("Role of carol").select_option(label="Reporter")
    row.get_by_role("button", name="Change role of carol").click()
    expect(page.get_by_role("status")).to_have_text("carol is now a Reporter here.")
    assert _put(site, project, "x/1.1/x.bin", carol).status_code == 403

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tbody tr", has_text="@carol").get_by_role("button", name="Remove carol").click()
    expect(page.get_by_role("status")).to_have_text("Member removed.")
    assert _put(site, project, "x/1.2/x.bin", carol).status_code == 404


def test_a_new_user_with_a_token_sets_a_password_and_revokes_the_token(
    tab: Visit, browser: Browser
) -> None:
    width = width_of(tab)
    user = f"erin-{width}"
    tab.sign_in("root")
    page = tab.go("/admin/users")
    page.get_by_label("Username", exact=True).fill(user)
    page.get_by_label("Name", exact=True).fill(f"Erin {width}")
    page.get_by_label("Email").fill(f"{user}@example.com")
    page.get_by_label("Create a personal access token for them").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name=f"Created user {user}, with a token")).to_be_visible()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("glpat-")
    assert accessibility_problems(page) == []

    # Erin signs in with it and sets a first password: no current one to give.
    phone = width < 1000
    erin = Visit(
        browser.new_context(viewport=tab.page.viewport_size, is_mobile=phone, has_touch=phone),
        tab.site,
    )
    try:
        page = erin.go("/users/sign_in")
        page.get_by_label("Personal access token", exact=True).fill(token)
        page.get_by_role("button", name="Sign in with token").click()
        expect(page.locator(".who")).to_have_text(f"Erin {width}")
        page = erin.go("/-/user_settings/personal_access_tokens")
        page.get_by_role("navigation", name="User settings").get_by_role(
            "link", name="Password"
        ).click()
        expect(page.get_by_label("Current password")).to_have_count(0)
        page.get_by_label("New password", exact=True).fill("erins-password")
        page.get_by_label("Confirm the new password").fill("erins-passwort")
        page.get_by_role("button", name="Set password").click()
        expect(page.locator("#password-password_confirmation-error")).to_have_text(
            "Password confirmation doesn't match Password"
        )
        assert focused_id(page) == "password-password_confirmation"
        expect(page.get_by_label("New password", exact=True)).to_have_value("")  # never echoed
        assert accessibility_problems(page) == []
        assert not overflows_horizontally(page)
        page.get_by_label("New password", exact=True).fill("erins-password")
        page.get_by_label("Confirm the new password").fill("erins-password")
        page.get_by_role("button", name="Set password").click()
        expect(page.get_by_role("status")).to_contain_text("Password changed.")
        expect(page.get_by_label("Current password")).to_be_visible()
        erin.screenshot(f"password-{width}")

        # Signed in with the token again, Erin revokes it: signed out, and told why.
        erin.context.clear_cookies()
        page = erin.go("/users/sign_in")
        page.get_by_label("Personal access token", exact=True).fill(token)
        page.get_by_role("button", name="Sign in with token").click()
        page = erin.go("/-/user_settings/personal_access_tokens")
        expect(page.locator("tbody tr", has_text="first sign-in")).to_contain_text("this session")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke first sign-in").click()
        expect(page).to_have_url(re.compile("/users/sign_in$"))
        expect(page.get_by_role("status")).to_contain_text(
            "You revoked the token this session was signed in with"
        )
        page.get_by_label("Username", exact=True).fill(user)
        page.get_by_label("Password", exact=True).fill("erins-password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.locator(".who")).to_have_text(f"Erin {width}")
        assert erin.errors == []
    finally:
        erin.context.close()


def test_user_pages_and_the_root_breadcrumb(tab: Visit) -> None:
    width = width_of(tab)
    tab.sign_in("root")
    page = tab.go("/projects/new")
    _create_project(page, f"Scratch {width}", "root (your personal namespace)")
    expect(page.get_by_role("status")).to_have_text(f"Project root/scratch-{width} created.")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="root").click()
    expect(page).to_have_url(re.compile("/root$"))
    expect(page.get_by_role("heading", name="Personal projects")).to_be_visible()
    expect(page.get_by_role("link", name=f"Scratch {width}")).to_be_visible()
    assert accessibility_problems(page) == []
    assert not overflows_horizontally(page)

    # Member names link to their pages.
    page = tab.go("/acme/tools/cli/-/project_members")
    page.get_by_role("link", name="Alice").first.click()
    expect(page).to_have_url(re.compile("/alice$"))
    expect(page.get_by_text("@alice")).to_be_visible()
