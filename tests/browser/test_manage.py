"""Managing things in the browser: deleting with confirmation, access tokens, signing in
with a token, passwords, blocked users, the registry access level."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.conftest import WIDE, Visit
from tests.browser.pages import accessibility_problems
from tests.browser.world import World, password
from tests.e2e.server import BIN

CLI = "/acme/tools/cli/-/packages"


def _file_url(site: World, name: str, version: str, file_name: str) -> str:
    return (
        f"{site.server.api}/projects/{site.projects['acme/tools/cli']}/packages/generic/"
        f"{name}/{version}/{file_name}"
    )


def test_delete_a_file_then_the_package_with_confirmation(visit: Visit, site: World) -> None:
    visit.sign_in("alice")
    page = visit.go(CLI + "?package_name=doomed")
    page.locator("table.packages tr", has_text="1.0").get_by_role("link", name="doomed").click()
    expect(page.get_by_role("heading", name="doomed 1.0")).to_be_visible()
    package_url = page.url

    page.locator("li.file", has_text="b.bin").get_by_role("link", name="Delete file").click()
    expect(page.get_by_role("heading", name="Delete file b.bin?")).to_be_visible()
    visit.screenshot("confirm-delete-file")
    assert accessibility_problems(page) == []
    page.get_by_role("button", name="Delete file").click()
    expect(page).to_have_url(package_url)
    expect(page.get_by_role("status")).to_have_text("Deleted file b.bin.")
    expect(page.locator("li.file", has_text="b.bin")).to_have_count(0)
    assert httpx.get(_file_url(site, "doomed", "1.0", "b.bin")).status_code == 404
    assert httpx.get(_file_url(site, "doomed", "1.0", "a.bin")).content == b"first file"

    page.get_by_role("link", name="Delete package").click()
    expect(page.get_by_role("heading", name="Delete package doomed 1.0?")).to_be_visible()
    visit.screenshot("confirm-delete-package")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(package_url)
    page.get_by_role("link", name="Delete package").click()
    page.get_by_role("button", name="Delete package").click()
    expect(page).to_have_url(re.compile(CLI + "$"))
    expect(page.get_by_role("status")).to_contain_text("Deleted package doomed 1.0")
    versions = page.locator("table.packages tr", has_text="doomed").locator("td:nth-child(2)")
    assert [v.strip() for v in versions.all_inner_texts()] == ["2.0"]
    assert httpx.get(_file_url(site, "doomed", "1.0", "a.bin")).status_code == 404
    package_id = package_url.rsplit("/", 1)[1]
    with site.api("alice") as api:
        project = site.projects["acme/tools/cli"]
        assert api.get(f"/projects/{project}/packages/{package_id}").status_code == 404


def test_a_hidden_package_has_a_page_a_download_and_a_delete(visit: Visit, site: World) -> None:
    site.publish("acme/tools/cli", "nightly", "0.1", "build.bin", b"hidden build", status="hidden")
    visit.sign_in("alice")
    page = visit.go(CLI + "?status=hidden&package_name=nightly")
    page.get_by_role("link", name="nightly").click()
    expect(page.get_by_role("heading", name="nightly 0.1")).to_be_visible()
    expect(page.get_by_text("This package is hidden")).to_be_visible()
    assert accessibility_problems(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="build.bin", exact=True).click()
    assert Path(download.value.path()).read_bytes() == b"hidden build"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .zip").click()
    assert Path(download.value.path()).stat().st_size > 0

    page.get_by_role("link", name="Delete package").click()
    page.get_by_role("button", name="Delete package").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted package nightly 0.1")
    assert httpx.get(_file_url(site, "nightly", "0.1", "build.bin")).status_code == 404


def test_reporters_get_no_delete_buttons(visit: Visit) -> None:
    visit.sign_in("bob")
    page = visit.go(CLI + "?package_name=tool")
    page.locator("table.packages td.name a").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^tool "))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Delete"))).to_have_count(0)
    page.goto(page.url + "/delete")
    expect(
        page.get_by_role("heading", name="You do not have permission to do that")
    ).to_be_visible()


def test_personal_access_tokens_are_shown_once_and_can_be_revoked(
    visit: Visit, site: World
) -> None:
    visit.sign_in("carol")
    page = visit.page
    page.get_by_role("link", name="Access tokens").click()
    page.get_by_label("Name").fill("laptop <script>")
    page.get_by_role("checkbox", name=re.compile(r"^api ")).uncheck()
    page.get_by_role("checkbox", name=re.compile(r"^read_api ")).check()
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("glpat-")
    page.locator('[data-copy="new-token"]').click()
    assert visit.clipboard() == token
    visit.screenshot("token-created")
    row = page.locator("table.list tr", has_text="laptop <script>")
    expect(row).to_contain_text("read_api")

    user = httpx.get(f"{site.server.api}/user", headers={"PRIVATE-TOKEN": token})
    assert user.status_code == 200 and user.json()["username"] == "carol"

    visit.go("/-/user_settings/personal_access_tokens")  # shown once: not on a later visit
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    visit.screenshot("tokens")
    assert accessibility_problems(page) == []

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke laptop <script>").click()
    expect(page.get_by_role("status")).to_contain_text("The token was revoked")
    expect(page.get_by_role("heading", name=re.compile("Revoked and expired"))).to_be_visible()
    revoked = httpx.get(f"{site.server.api}/user", headers={"PRIVATE-TOKEN": token})
    assert revoked.status_code == 401


def test_sign_in_with_a_read_only_token(visit: Visit, site: World) -> None:
    with site.api() as api:
        alice = api.get("/users", params={"username": "alice"}).json()[0]["id"]
        created = api.post(
            f"/users/{alice}/personal_access_tokens",
            json={"name": "browser", "scopes": ["read_api"]},
        )
        assert created.status_code == 201, created.text
    page = visit.go("/users/sign_in")
    page.get_by_label("Personal access token", exact=True).fill(created.json()["token"])
    page.get_by_role("button", name="Sign in with token").click()
    expect(page.locator(".who")).to_have_text("Alice")
    page = visit.go(CLI + "?package_name=tool")
    page.locator("table.packages td.name a").first.click()
    expect(page.get_by_role("link", name=re.compile("Delete"))).to_have_count(0)
    visit.go("/-/user_settings/personal_access_tokens")
    expect(visit.page.get_by_text("You signed in with a read-only token")).to_be_visible()


def test_wrong_passwords_blocked_users_and_the_admin_user_list(
    visit: Visit, browser: Browser
) -> None:
    page = visit.go("/users/sign_in")
    page.get_by_label("Username", exact=True).fill("root")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
    expect(page.get_by_label("Username", exact=True)).to_have_value("root")

    visit.sign_in("root")
    page.get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile("/admin/users$"))
    page.get_by_label("Username", exact=True).fill("dave")
    page.get_by_label("Name", exact=True).fill("Dave")
    page.get_by_label("Email").fill("dave@example.com")
    page.get_by_label(re.compile("^Password")).fill("dave-password")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("Created user dave.")
    visit.screenshot("admin-users")
    assert accessibility_problems(page) == []

    dave = Visit(browser.new_context(viewport=WIDE), visit.site)
    try:
        dave.sign_in("dave")
        expect(dave.page.locator(".who")).to_have_text("Dave")

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Block dave").click()
        expect(page.get_by_role("status")).to_contain_text("User blocked")

        dave.page.reload()  # the session ends at once
        expect(dave.page.locator(".who")).to_have_count(0)
        expect(dave.page.get_by_role("alert")).to_contain_text("You were signed out")
        dave.go("/users/sign_in")
        dave.page.get_by_label("Username", exact=True).fill("dave")
        dave.page.get_by_label("Password", exact=True).fill("dave-password")
        dave.page.get_by_role("button", name="Sign in", exact=True).click()
        expect(dave.page.get_by_role("alert")).to_contain_text("blocked")

        page.get_by_role("button", name="Unblock dave").click()
        dave.sign_in("dave")
        assert dave.errors == []
    finally:
        dave.context.close()


def test_set_password_from_the_command_line_ends_old_sessions(visit: Visit, site: World) -> None:
    visit.sign_in("carol")
    result = subprocess.run(
        [str(BIN / "cargobay"), "admin", "set-password", "carol", "--password-stdin"],
        input="a-brand-new-password\n",
        env=site.server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    visit.page.reload()
    expect(visit.page.locator(".who")).to_have_count(0)  # signed in with the old one
    page = visit.go("/users/sign_in")
    page.get_by_label("Username", exact=True).fill("carol")
    page.get_by_label("Password", exact=True).fill(password("carol"))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
    page.get_by_label("Password", exact=True).fill("a-brand-new-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".who")).to_have_text("Carol")


def test_registry_access_level(visit: Visit, site: World) -> None:
    visit.sign_in("alice")
    page = visit.go(CLI)
    page.get_by_role("link", name="Settings").click()
    visit.screenshot("project-settings")
    assert accessibility_problems(page) == []
    page.get_by_label(re.compile("^Disabled")).check()
    page.get_by_role("button", name="Save access level").click()
    expect(page.get_by_role("status")).to_have_text("Package registry access: Disabled.")
    project = site.projects["acme/tools/cli"]
    with site.api("alice") as api:
        assert api.get(f"/projects/{project}/packages").status_code == 403
        page = visit.go(CLI)
        expect(
            page.get_by_text("The package registry is disabled for this project.")
        ).to_be_visible()
        page.get_by_role("link", name="Enable it in Settings").click()
        page.get_by_label(re.compile("^Everyone with access to the project")).check()
        page.get_by_role("button", name="Save access level").click()
        assert api.get(f"/projects/{project}/packages").status_code == 200
