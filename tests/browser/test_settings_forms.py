"""Refused settings forms keep what was typed and show the error beside its field, with
focus on it; the cleanup preview shows what the form holds before anything is saved.
Every test runs at a desktop width (1366x900) and a phone's (390x844)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import sizes
from tests.browser.conftest import Visit
from tests.browser.pages import accessibility_problems, overflows_horizontally
from tests.browser.sizes import focused_id, width_of
from tests.browser.world import World

tab = sizes.tab  # each test at both widths

SETTINGS = "/acme/internal/-/settings/packages_and_registries"


def test_a_bad_keep_regex_is_shown_beside_the_field_with_the_input_kept(tab: Visit) -> None:
    tab.sign_in("alice")
    page = tab.go(SETTINGS)
    page.get_by_label("Keep the newest versions of each package").fill("4")
    page.get_by_label("Always keep names or versions matching").fill("(unclosed")
    page.get_by_role("button", name="Save cleanup policy").click()

    pattern = page.get_by_label("Always keep names or versions matching")
    expect(pattern).to_have_value("(unclosed")
    expect(pattern).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Keep the newest versions of each package")).to_have_value("4")
    error = page.locator("#cleanup-keep_pattern-error")
    expect(error).to_contain_text("not valid RE2 syntax")
    expect(error).to_be_in_viewport()
    assert focused_id(page) == "keep-pattern"
    # The error is described by the field (screen readers read it with the field).
    assert "cleanup-keep_pattern-error" in (pattern.get_attribute("aria-describedby") or "")
    assert accessibility_problems(page) == []
    assert not overflows_horizontally(page)

    # Nothing was saved.
    page = tab.go(SETTINGS)
    expect(page.get_by_label("Always keep names or versions matching")).to_have_value("")

    # A number out of range is refused beside its own field, the regex kept as typed.
    page.get_by_label("Remove versions older than (days)").fill("100001")
    page.get_by_label("Always keep names or versions matching").fill("stable-.*")
    page.get_by_role("button", name="Save cleanup policy").click()
    days = page.get_by_label("Remove versions older than (days)")
    expect(days).to_have_value("100001")
    expect(page.locator("#cleanup-remove_older_than_days-error")).to_contain_text("1 to 100,000")
    expect(page.get_by_label("Always keep names or versions matching")).to_have_value("stable-.*")
    assert focused_id(page) == "rule-remove_older_than_days"


def test_a_duplicate_protection_rule_is_refused_beside_the_pattern(tab: Visit, site: World) -> None:
    pattern = f"dup-{width_of(tab)}-*"
    tab.sign_in("alice")
    page = tab.go(SETTINGS)
    page.get_by_label("Package name pattern").fill(pattern)
    page.get_by_label("Minimum role to delete").select_option("owner")
    page.get_by_role("button", name="Add protection rule").click()
    expect(page.get_by_role("status")).to_have_text("Protection rule added.")

    page.get_by_label("Package name pattern").fill(pattern)
    page.get_by_label("Minimum role to publish").select_option("owner")
    page.get_by_role("button", name="Add protection rule").click()
    field = page.get_by_label("Package name pattern")
    expect(field).to_have_value(pattern)
    expect(page.get_by_label("Minimum role to publish")).to_have_value("owner")
    error = page.locator("#rule-package_name_pattern-error")
    expect(error).to_have_text("Package name pattern has already been taken")
    expect(error).to_be_in_viewport()
    assert focused_id(page) == "rule-pattern"
    with site.api("alice") as api:
        project = site.projects["acme/internal"]
        rules = api.get(f"/projects/{project}/packages/protection/rules").json()
    assert [r["package_name_pattern"] for r in rules].count(pattern) == 1


def test_the_preview_shows_what_the_form_holds_before_saving(tab: Visit, site: World) -> None:
    internal = "acme/internal"
    width = width_of(tab)
    name = f"preview-{width}"
    for version in ("1.0", "2.0", "3.0"):
        site.publish(internal, name, version, "p.bin", version.encode())
    project = site.projects[internal]
    with site.api("alice") as api:
        before = api.get(f"/projects/{project}/packages/cleanup_policy").json()

    tab.sign_in("alice")
    page = tab.go(SETTINGS)
    page.get_by_label("Keep the newest versions of each package").fill("1")
    page.get_by_label("Always keep names or versions matching").fill("internal-lib|dupes|rel")
    page.get_by_role("button", name="Preview what it removes").click()

    preview = page.locator("#cleanup-preview")
    expect(preview).to_contain_text("not saved")
    expect(preview.locator("tbody tr", has_text=name)).to_have_count(2)  # 1.0 and 2.0
    expect(preview.locator("tbody tr", has_text="3.0")).to_have_count(0)
    expect(
        page.get_by_role("heading", name="Preview of the policy above (not saved)")
    ).to_be_focused()
    # The form still holds what was typed, and nothing was saved.
    expect(page.get_by_label("Keep the newest versions of each package")).to_have_value("1")
    expect(page.get_by_label("Always keep names or versions matching")).to_have_value(
        "internal-lib|dupes|rel"
    )
    with site.api("alice") as api:
        assert api.get(f"/projects/{project}/packages/cleanup_policy").json() == before
    assert accessibility_problems(page) == []
    assert not overflows_horizontally(page)
    tab.screenshot(f"cleanup-form-preview-{width}")

    # Change the form: the preview follows it, still unsaved.
    page.get_by_label("Always keep names or versions matching").fill(
        "preview-.*|internal-lib|rel|dupes"
    )
    page.get_by_role("button", name="Preview what it removes").click()
    expect(page.locator("#cleanup-preview")).to_contain_text("Nothing to remove")

    # A bad regex in a preview is refused beside the field, like a save.
    page.get_by_label("Always keep names or versions matching").fill("[")
    page.get_by_role("button", name="Preview what it removes").click()
    expect(page.locator("#cleanup-keep_pattern-error")).to_contain_text("not valid RE2 syntax")
    expect(page.locator("#cleanup-preview")).to_have_count(0)

    # Saving what was previewed saves exactly that.
    page.get_by_label("Always keep names or versions matching").fill(
        "preview-.*|internal-lib|rel|dupes"
    )
    page.get_by_role("button", name="Save cleanup policy").click()
    expect(page.get_by_role("status")).to_have_text("Cleanup policy saved.")
    with site.api("alice") as api:
        saved = api.get(f"/projects/{project}/packages/cleanup_policy").json()
    assert saved["keep_n_latest_versions"] == 1
    assert saved["keep_pattern"] == "preview-.*|internal-lib|rel|dupes"
