"""Registry policies in the browser: a group's duplicate setting (and the API refusing a
duplicate upload), protection rules, the cleanup policy with its dry-run preview, and the
administrator's size limit and feature flags."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Visit
from tests.browser.pages import accessibility_problems
from tests.browser.world import World


def _put(site: World, project: str, path: str, body: bytes, user: str = "root") -> httpx.Response:
    return httpx.put(
        f"{site.server.api}/projects/{site.projects[project]}/packages/generic/{path}",
        content=body,
        headers={"PRIVATE-TOKEN": site.tokens[user]},
    )


def test_duplicate_setting_makes_the_api_refuse_a_duplicate(visit: Visit, site: World) -> None:
    cli = "acme/tools/cli"
    assert _put(site, cli, "tool/1.0.0/tool.tar.gz", b"again").status_code == 201

    visit.sign_in("root")
    page = visit.go("/groups/acme/tools")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Duplicate generic packages")).to_be_visible()
    checkbox = page.get_by_label("Allow duplicates")
    expect(checkbox).to_be_checked()
    checkbox.uncheck()
    page.get_by_role("button", name="Save duplicate settings").click()
    expect(page.get_by_role("status")).to_have_text("Duplicate settings saved.")
    expect(page.get_by_label("Allow duplicates")).not_to_be_checked()
    visit.screenshot("group-settings")
    assert accessibility_problems(page) == []

    refused = _put(site, cli, "tool/1.0.0/tool.tar.gz", b"once more")
    assert refused.status_code == 400
    assert refused.json() == {"message": "400 Bad request - Duplicate package is not allowed"}
    assert _put(site, cli, "tool/1.0.0/new-name.txt", b"new").status_code == 201

    page.get_by_label("Exceptions").fill(r"1\.0\.0")
    page.get_by_role("button", name="Save duplicate settings").click()
    expect(page.get_by_role("status")).to_have_text("Duplicate settings saved.")
    assert _put(site, cli, "tool/1.0.0/tool.tar.gz", b"an exception").status_code == 201
    assert _put(site, cli, "tool/1.1.0/tool.tar.gz", b"no exception").status_code == 400

    page.get_by_label("Exceptions").fill("(unclosed")
    page.get_by_role("button", name="Save duplicate settings").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid RE2 syntax")


def test_only_owners_change_group_settings(visit: Visit) -> None:
    visit.sign_in("alice")  # Maintainer of acme
    page = visit.go("/groups/acme")
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    page = visit.go("/groups/acme/-/settings/packages_and_registries")
    expect(
        page.get_by_role("heading", name="You do not have permission to do that")
    ).to_be_visible()


def test_protection_rules_stop_a_delete(visit: Visit, site: World) -> None:
    visit.sign_in("alice")
    page = visit.go("/acme/tools/cli/-/settings/packages_and_registries")
    page.get_by_label("Package name pattern").fill("libwid*")
    page.get_by_label("Minimum role to delete").select_option("owner")
    page.get_by_role("button", name="Add protection rule").click()
    expect(page.get_by_role("status")).to_have_text("Protection rule added.")
    row = page.locator("#protection table tr", has_text="libwid*")
    expect(row).to_contain_text("Owner")
    visit.screenshot("project-settings-policies")

    page = visit.go("/acme/tools/cli/-/packages?package_name=libwidget")
    page.get_by_role("link", name="libwidget").click()
    page.get_by_role("link", name="Delete package").click()
    page.get_by_role("button", name="Delete package").click()
    expect(page.get_by_role("alert")).to_contain_text("Package is deletion protected.")
    expect(page.get_by_role("heading", name="libwidget 0.3.1")).to_be_visible()

    page = visit.go("/acme/tools/cli/-/settings/packages_and_registries")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete rule libwid*").click()
    expect(page.get_by_role("status")).to_have_text("Protection rule deleted.")
    expect(page.locator("#protection table")).to_have_count(0)


def test_cleanup_policy_preview_then_run(visit: Visit, site: World) -> None:
    internal = "acme/internal"
    for body in (b"one", b"two", b"three"):
        assert _put(site, internal, "dupes/1.0/x.bin", body).status_code == 201
    for version in ("1.0", "2.0"):
        assert _put(site, internal, f"rel/{version}/r.bin", version.encode()).status_code == 201

    visit.sign_in("alice")
    page = visit.go("/acme/internal/-/settings/packages_and_registries")
    page.get_by_label("Duplicated files to keep").select_option("1")
    page.get_by_label("Keep the newest versions of each package").fill("1")
    page.get_by_label("Always keep names or versions matching").fill("internal-lib|dupes")
    page.get_by_role("button", name="Save cleanup policy").click()
    expect(page.get_by_role("status")).to_have_text("Cleanup policy saved.")
    expect(page.locator("#cleanup")).to_contain_text("Next run:")

    page.get_by_role("link", name="Run the saved policy now").click()
    expect(page.get_by_role("heading", name="Cleanup preview")).to_be_visible()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)  # "dupes" is kept by the pattern, "rel 2.0" is newest
    expect(rows.first).to_contain_text("rel")
    expect(rows.first).to_contain_text("not among the newest versions kept")
    visit.screenshot("cleanup-preview")

    page = visit.go("/acme/internal/-/settings/packages_and_registries")
    page.get_by_label("Always keep names or versions matching").fill("internal-lib")
    page.get_by_role("button", name="Save cleanup policy").click()
    page.get_by_role("link", name="Run the saved policy now").click()
    expect(page.locator("table.list tbody tr")).to_have_count(3)  # rel 1.0 and two x.bin
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Run cleanup now").click()
    expect(page.get_by_role("status")).to_have_text("Cleanup removed 1 package and 2 files.")

    project = site.projects[internal]
    with site.api("alice") as api:
        names = [(p["name"], p["version"]) for p in api.get(f"/projects/{project}/packages").json()]
        assert sorted(names) == [("dupes", "1.0"), ("internal-lib", "2.0"), ("rel", "2.0")]
        download = api.get(f"/projects/{project}/packages/generic/dupes/1.0/x.bin")
        assert download.content == b"three"

    page = visit.go("/acme/internal/-/settings/packages_and_registries")
    days = page.get_by_label("Remove versions older than (days)")
    days.fill("-3")  # the browser refuses it before it is sent (the server would too)
    assert days.evaluate("input => input.validity.valid") is False


def test_admin_size_limit_and_feature_flags(visit: Visit, site: World) -> None:
    visit.sign_in("root")
    page = visit.go("/admin")
    page.get_by_role("link", name="Package registry").click()
    expect(page).to_have_url(re.compile("/admin/registry$"))
    page.get_by_label("New limit").fill("1 KiB")
    page.get_by_role("button", name="Save limit").click()
    expect(page.get_by_role("status")).to_have_text("Maximum file size saved.")
    expect(page.locator("main")).to_contain_text("1.0 KiB")
    visit.screenshot("admin-registry")
    assert accessibility_problems(page) == []
    too_big = _put(site, "acme/internal", "big/1.0/big.bin", bytes(2048))
    assert too_big.status_code == 400
    assert too_big.json() == {"message": "400 Bad request - File is too large"}
    page.get_by_label("New limit").fill("0")
    page.get_by_role("button", name="Save limit").click()
    assert _put(site, "acme/internal", "big/1.0/big.bin", bytes(2048)).status_code == 201

    flag = page.locator("#flag-generic_packages")
    flag.get_by_label("Set").select_option("off")
    flag.get_by_label(re.compile("^Path")).fill("acme/internal")
    flag.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text(
        "Feature flag generic_packages: off for acme/internal."
    )
    expect(page.locator("#flag-generic_packages .badge")).to_have_text("conditional")
    assert _put(site, "acme/internal", "big/1.0/more.bin", b"x").status_code == 404
    assert _put(site, "acme/tools/cli", "big/1.0/more.bin", b"x").status_code == 201
    flag = page.locator("#flag-generic_packages")
    flag.get_by_label("Set").select_option("default")
    flag.get_by_role("button", name="Apply").click()
    expect(page.locator("#flag-generic_packages .badge")).to_have_text("on")
    assert _put(site, "acme/internal", "big/1.0/more.bin", b"x").status_code == 201
