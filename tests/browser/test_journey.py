"""A Developer's day in the browser: sign in, find a package, copy the commands that
download it or publish to it (and run them as pasted), sign out. Also what anonymous
visitors see, hidden packages, phones, escaping and the error pages."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Visit, run_pasted
from tests.browser.pages import accessibility_problems, overflows_horizontally
from tests.browser.world import World, password

CLI = "/acme/tools/cli/-/packages"


def test_sign_in_browse_filter_open_a_package_and_sign_out(visit: Visit, site: World) -> None:
    page = visit.go("/")
    expect(page).to_have_url(re.compile(r"/explore$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    visit.screenshot("sign-in")
    assert accessibility_problems(page) == []
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill(password("alice"))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/explore$"))
    expect(page.locator(".who")).to_have_text("Alice")
    visit.screenshot("explore")
    assert accessibility_problems(page) == []

    page.get_by_role("link", name="ACME Corp / tools / CLI").click()
    expect(page).to_have_url(re.compile(CLI + "$"))
    names = page.locator("table.packages td.name").all_inner_texts()
    assert names[0] == "doomed"  # newest first
    assert {"tool", "libwidget", "built-by-ci", "doomed"} <= set(names)
    assert "secret-build" not in names  # hidden
    visit.screenshot("project-packages")
    assert accessibility_problems(page) == []

    page.get_by_label("Name contains").fill("tool")
    page.get_by_label("Sort by").select_option("version")
    page.get_by_label("Order").select_option("asc")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"package_name=tool"))
    rows = page.locator("table.packages tbody tr")
    assert rows.locator("td.name").all_inner_texts() == ["tool"] * 3
    assert [v.strip() for v in rows.locator("td:nth-child(2)").all_inner_texts()] == [
        "1.0.0",
        "1.1.0",
        "2.0.0",
    ]
    expect(page.locator(".pageinfo")).to_contain_text("3 packages")
    visit.screenshot("project-packages-filtered")

    # Only generic packages exist, so there is no Type menu (issue 20); a name that
    # matches nothing shows the empty state.
    expect(page.get_by_label("Type")).to_have_count(0)
    page.get_by_label("Name contains").fill("no-such-package")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="No packages match")).to_be_visible()
    page.get_by_role("link", name="Clear the filters").click()
    expect(page).to_have_url(re.compile(CLI + "$"))

    page.get_by_label("Name contains").fill("tool")
    page.get_by_role("button", name="Apply").click()
    page.locator("table.packages tr", has_text="1.0.0").get_by_role("link", name="tool").click()
    expect(page.get_by_role("heading", name="tool 1.0.0")).to_be_visible()
    body = site.contents["tool/1.0.0/tool.tar.gz"]
    card = page.locator("li.file", has_text="tool.tar.gz")
    for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5):
        expect(card).to_contain_text(digest(body).hexdigest())
    expect(card.locator(".size")).to_have_attribute("title", f"{len(body):,} bytes")
    expect(page.locator(".facts")).to_contain_text("Last downloaded")
    expect(page.get_by_role("link", name="1.1.0")).to_be_visible()  # other versions
    visit.screenshot("package")
    assert accessibility_problems(page) == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")
    ).to_be_visible()
    visit.go("/-/user_settings/personal_access_tokens")
    expect(page).to_have_url(re.compile(r"/users/sign_in\?next="))


def test_download_commands_work_when_pasted(visit: Visit, site: World, tmp_path: Path) -> None:
    visit.sign_in("bob")  # a Reporter: may download, not publish
    page = visit.go(CLI + "?package_name=tool&order_by=version&sort=asc")
    page.locator("table.packages tr", has_text="1.0.0").get_by_role("link", name="tool").click()
    card = page.locator("li.file", has_text="tool.tar.gz")
    before = downloads_shown(card)
    card.get_by_text("Download commands").click()
    body = site.contents["tool/1.0.0/tool.tar.gz"]
    for tool in ("curl", "wget", "python-gitlab"):
        card.locator(f'[data-copy$="-{tool}"]').click()
        command = visit.clipboard()
        assert command.startswith(
            {"curl": "curl ", "wget": "wget ", "python-gitlab": "gitlab "}[tool]
        )
        assert "$CARGOBAY_TOKEN" in command  # the token is never part of the page
        workdir = tmp_path / tool
        workdir.mkdir()
        result = run_pasted(command, workdir, site.tokens["bob"])
        assert result.returncode == 0, result.stderr
        assert (workdir / "tool.tar.gz").read_bytes() == body
    # A public project's files download without a token too.
    card.locator('[data-copy$="-curl"]').click()
    anonymous = tmp_path / "anonymous"
    anonymous.mkdir()
    assert run_pasted(visit.clipboard(), anonymous, None).returncode == 0
    assert (anonymous / "tool.tar.gz").read_bytes() == body
    # The file's own link downloads it through the session.
    with page.expect_download() as download:
        card.get_by_role("link", name="tool.tar.gz").click()
    assert Path(download.value.path()).read_bytes() == body
    # Five downloads, counted on the file's card once the server has written them.
    for _ in range(50):
        page.reload()
        if downloads_shown(card) == before + 5:
            break
        page.wait_for_timeout(100)
    assert downloads_shown(card) == before + 5


def downloads_shown(card: Locator) -> int:
    shown = card.locator("dl.hashes div", has_text="Downloads").locator("dd").inner_text()
    return int(shown.replace(",", ""))


def test_publish_commands_work_when_pasted(visit: Visit, site: World, tmp_path: Path) -> None:
    visit.sign_in("alice")
    page = visit.go(CLI + "?package_name=libwidget")
    page.get_by_role("link", name="libwidget").click()
    expect(page.get_by_role("heading", name="libwidget 0.3.1")).to_be_visible()
    published = {}
    for tool, local in (
        ("curl", "dist/widget-curl.tar.gz"),
        ("wget", "widget-wget.bin"),
        ("python-gitlab", "build/out/widget+gitlab.zip"),
    ):
        path = tmp_path / local
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"published with {tool}".encode())
        page.get_by_label("Local file to publish").fill(local)
        page.locator(f'[data-copy="pub-{tool}"]').click()
        command = visit.clipboard()
        assert local in command
        result = run_pasted(command, tmp_path, site.tokens["alice"])
        assert result.returncode == 0, result.stderr
        published[Path(local).name] = path.read_bytes()
    page.get_by_label("Local file to publish").fill("bad~")
    expect(page.locator("[data-publish-error]")).to_be_visible()

    page.reload()
    for name, body in published.items():
        card = page.locator("li.file", has_text=name)
        expect(card).to_contain_text(hashlib.sha256(body).hexdigest())
        url = (
            f"{site.server.api}/projects/{site.projects['acme/tools/cli']}/packages/generic/"
            f"libwidget/0.3.1/{name}"
        )
        assert httpx.get(url).content == body


def test_anonymous_visitors_see_only_public_projects(visit: Visit) -> None:
    page = visit.go("/explore")
    cards = page.locator(".cards .title").all_inner_texts()
    assert cards == ["ACME Corp / tools / CLI"]
    expect(page.get_by_text("Sign in to see private ones")).to_be_visible()
    visit.screenshot("explore-anonymous")
    page.get_by_role("link", name="Groups").click()
    assert page.locator(".cards .title").all_inner_texts() == ["ACME Corp", "ACME Corp / tools"]

    page = visit.go("/acme/internal/-/packages")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="sign in", exact=True)).to_be_visible()
    visit.screenshot("not-found-private-project")
    for hidden in ("/secret/vault/-/packages", "/groups/secret", "/groups/secret/-/packages"):
        assert visit.go(hidden).get_by_role("heading", name="Page not found").is_visible()

    page = visit.go(CLI)
    assert "tool" in page.locator("table.packages td.name").all_inner_texts()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete package")).to_have_count(0)


def test_hidden_packages_appear_only_with_the_hidden_filter(visit: Visit) -> None:
    visit.sign_in("alice")
    for path in (CLI, "/groups/acme/-/packages"):
        page = visit.go(path)
        assert "secret-build" not in page.locator("table.packages td.name").all_inner_texts()
    page = visit.go(CLI)
    page.get_by_label("Status").select_option("hidden")
    page.get_by_role("button", name="Apply").click()
    assert page.locator("table.packages td.name").all_inner_texts() == ["secret-build"]
    expect(page.locator(".pageinfo")).to_contain_text("1 package")
    expect(page.locator(".pageinfo")).not_to_contain_text("1 packages")
    # Unlike the Packages API (404, spec §10), the interface gives it a page.
    page.get_by_role("link", name="secret-build").click()
    expect(page.get_by_role("heading", name="secret-build 0.9")).to_be_visible()
    expect(page.get_by_text("This package is hidden")).to_be_visible()
    expect(page.locator("li.file", has_text="hidden.bin")).to_be_visible()


def test_group_packages_span_its_projects(visit: Visit) -> None:
    visit.sign_in("bob")
    page = visit.go("/groups/acme")
    expect(page.get_by_role("link", name="internal")).to_be_visible()
    visit.screenshot("group")
    page.get_by_role("link", name="Packages", exact=True).click()
    projects = set(page.locator("table.packages td[data-label=Project]").all_inner_texts())
    assert projects == {"acme/tools/cli", "acme/internal"}
    page.get_by_label("Sort by").select_option("project_path")
    page.get_by_label("Order").select_option("asc")
    page.get_by_role("button", name="Apply").click()
    first = page.locator("table.packages td[data-label=Project]").first
    expect(first).to_have_text("acme/tools/cli")  # order_by project_path sorts by "cli"
    visit.screenshot("group-packages")


def test_a_phone_gets_a_one_column_layout(phone: Visit) -> None:
    phone.sign_in("alice")
    for path, name in ((CLI, "phone-project-packages"), ("/explore", "phone-explore")):
        page = phone.go(path)
        assert not overflows_horizontally(page)
        phone.screenshot(name)
    page = phone.go(CLI + "?package_name=tool")
    page.locator("table.packages td.name a").first.click()
    expect(page.locator("li.file").first).to_be_visible()
    assert not overflows_horizontally(page)
    phone.screenshot("phone-package")


def test_names_are_escaped(visit: Visit, site: World) -> None:
    with site.api() as api:
        response = api.post(
            "/users",
            json={
                "username": "mallory",
                "name": '<img src=x onerror="document.title=1">',
                "email": "mallory@example.com",
                "password": "mallory-password",
            },
        )
        assert response.status_code == 201, response.text
    visit.sign_in("mallory")
    expect(visit.page.locator(".who")).to_have_text('<img src=x onerror="document.title=1">')
    expect(visit.page.locator(".account img")).to_have_count(0)
    assert visit.page.title() != "1"


def test_unknown_pages_explain_what_to_do(visit: Visit) -> None:
    page = visit.go("/no/such/thing")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Explore projects and groups")).to_be_visible()
    visit.screenshot("not-found")
    assert accessibility_problems(page) == []
    page = visit.go(CLI + "?status=bogus")
    expect(page.get_by_role("heading", name="That request could not be handled")).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("status 'bogus' is not one of")
    page = visit.go(CLI + "/999999")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
