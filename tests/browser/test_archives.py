"""The package page's whole-package downloads (Cargobay's own ~archive and ~latest,
docs/extensions.md) in Chromium: the buttons download through the session, and the
copied commands work when pasted."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from pathlib import Path

from tests.browser.conftest import Visit, run_pasted
from tests.browser.world import World

CLI = "/acme/tools/cli/-/packages"


def test_the_package_page_downloads_the_whole_package(
    visit: Visit, site: World, tmp_path: Path
) -> None:
    visit.sign_in("bob")  # a Reporter: may download
    page = visit.go(CLI + "?package_name=tool&order_by=version&sort=asc")
    page.locator("table.packages tr", has_text="1.0.0").get_by_role("link", name="tool").click()
    expected = {
        name: site.contents[f"tool/1.0.0/{name}"] for name in ("checksums.txt", "tool.tar.gz")
    }
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .zip").click()
    assert download.value.suggested_filename == "tool-1.0.0.zip"
    with zipfile.ZipFile(download.value.path()) as archive:
        assert {i.filename: archive.read(i) for i in archive.infolist()} == expected
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .tar.gz").click()
    with tarfile.open(download.value.path()) as archive:
        found = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    assert found == expected
    visit.screenshot("package-archives")

    # The copied commands: this version's archive, and ~latest's (2.0.0 here).
    page.locator('[data-copy="archive-1"]').click()
    result = run_pasted(visit.clipboard(), tmp_path, site.tokens["bob"])
    assert result.returncode == 0, result.stderr
    with tarfile.open(tmp_path / "tool-1.0.0.tar.gz") as archive:
        assert sorted(archive.getnames()) == sorted(expected)
    page.locator('[data-copy="archive-2"]').click()
    command = visit.clipboard()
    assert "/tool/~latest/~archive.tar.gz" in command
    assert run_pasted(command, tmp_path, site.tokens["bob"]).returncode == 0
    with tarfile.open(tmp_path / "tool-latest.tar.gz") as archive:
        latest = archive.extractfile("tool.tar.gz")
        assert latest is not None and latest.read() == site.contents["tool/2.0.0/tool.tar.gz"]


def test_sha256sums_and_unknown_archives(visit: Visit, site: World) -> None:
    page = visit.go(CLI + "?package_name=libwidget")
    page.get_by_role("link", name="libwidget").first.click()
    package_path = page.url.split(site.server.base_url, 1)[1]
    sums = visit.context.request.get(site.server.base_url + package_path + "/sha256sums")
    assert sums.status == 200
    assert sums.text().endswith("  libwidget.so\n")
    missing = visit.context.request.get(site.server.base_url + package_path + "/archive.rar")
    assert missing.status == 404


def test_a_nested_file_shows_its_path_and_downloads_under_its_name(
    visit: Visit, site: World, tmp_path: Path
) -> None:
    body = b"linux amd64 build\n"
    site.publish("acme/tools/cli", "nested", "1.0.0", "linux/amd64/tool", body)
    visit.sign_in("bob")
    page = visit.go(CLI + "?package_name=nested")
    page.get_by_role("link", name="nested").first.click()
    link = page.get_by_role("link", name="linux/amd64/tool", exact=True)
    assert link.is_visible()
    assert "%2F" not in page.locator("main").inner_text()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "tool"
    assert Path(download.value.path()).read_bytes() == body

    # The same file with curl -OJ and wget --content-disposition, as users download it.
    url = (
        f"{site.server.api}/projects/{site.projects['acme/tools/cli']}/packages/generic/"
        "nested/1.0.0/linux%2Famd64%2Ftool"
    )
    header = f"PRIVATE-TOKEN: {site.tokens['bob']}"
    for command in (
        ["curl", "--fail", "--silent", "-OJ", "--header", header, url],
        ["wget", "--quiet", "--content-disposition", f"--header={header}", url],
    ):
        where = tmp_path / command[0]
        where.mkdir()
        subprocess.run(command, cwd=where, check=True, timeout=60)
        assert [p.name for p in where.iterdir()] == ["tool"], command[0]
        assert (where / "tool").read_bytes() == body
