"""Every link leads to a page (issue 20): a crawl of the whole interface as the
administrator and as a signed-out visitor, plus the ``web_url``/``web_path`` fields of
the API's answers; and a long package name wraps without breaking the other columns."""

from __future__ import annotations

from collections import deque
from urllib.parse import urldefrag, urljoin, urlsplit

from tests.browser.conftest import Visit
from tests.browser.world import World

SKIPPED = ("/users/sign_out",)
MAX_PAGES = 400


def crawl(visit: Visit, start: list[str]) -> dict[str, int]:
    """Breadth-first over same-origin links from ``start``; the status of each page."""
    base = visit.site.server.base_url
    seen: dict[str, int] = {}
    queue = deque(start)
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        # Downloads (files, archives) are links too: fetched with the session, not shown.
        response = visit.context.request.get(base + path, max_redirects=5)
        seen[path] = response.status
        if response.status >= 400 or "text/html" not in response.headers.get("content-type", ""):
            continue
        visit.page.goto(base + path)
        hrefs: list[str] = visit.page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            url = urldefrag(urljoin(base + path, href)).url
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != base or any(s in parts.path for s in SKIPPED):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def api_web_paths(site: World) -> list[str]:
    """The pages the API's answers point to (projects' web_url, packages' web_path)."""
    base = site.server.base_url
    paths = []
    with site.api() as api:
        for project in api.get("/projects", params={"per_page": 100}).json():
            paths.append(urlsplit(project["web_url"]).path)
            packages = api.get(f"/projects/{project['id']}/packages", params={"per_page": 100})
            for package in packages.json():
                paths.append(package["_links"]["web_path"])
        for group in api.get("/groups", params={"per_page": 100}).json():
            paths.append(urlsplit(group["web_url"]).path)
        for user in api.get("/users", params={"per_page": 100}).json():
            paths.append(urlsplit(user["web_url"]).path)
    assert paths and all(p.startswith("/") for p in paths), base
    return paths


def test_no_link_leads_to_a_404(visit: Visit, site: World) -> None:
    anonymous = crawl(visit, ["/", "/explore"])
    assert not {p: s for p, s in anonymous.items() if s == 404 or s >= 500}
    visit.sign_in("root")
    signed_in = crawl(visit, ["/explore", "/admin", *api_web_paths(site)])
    broken = {p: s for p, s in signed_in.items() if s == 404 or s >= 500}
    assert not broken, broken
    # The crawl reached the deep pages, not only the front.
    assert any("/-/packages/" in p for p in signed_in), sorted(signed_in)
    assert any("/-/settings/" in p for p in signed_in), sorted(signed_in)


LINE_BOXES = """td => { const r = document.createRange(); r.selectNodeContents(td);
  return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"""


def test_a_long_package_name_wraps_without_breaking_the_other_columns(
    visit: Visit, site: World
) -> None:
    long_name = "a-very-long-package-name-" * 9 + "end"
    site.publish("acme/tools/cli", long_name, "1.0.0-beta.1", "x.bin", b"x")
    visit.sign_in("root")
    page = visit.go(f"/acme/tools/cli/-/packages?package_name={long_name[:30]}")
    row = page.locator("table.list tbody tr", has_text="end").first
    assert row.is_visible()
    for cell in row.locator("td:not(.name)").all():
        assert cell.evaluate(LINE_BOXES) <= 2, cell.inner_text()
    name = row.locator("td.name")
    assert name.evaluate(LINE_BOXES) >= 2  # the name is what wraps
    viewport = page.viewport_size
    assert viewport and page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


# WCAG 2 contrast of each badge's text against what is behind it (its own background,
# blended over its ancestors' where translucent).
BADGE_CONTRASTS = """() => {
  const rgba = s => (s.match(/[\\d.]+/g) || []).map(Number).concat([1]).slice(0, 4);
  const behind = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out;
  };
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  return [...document.querySelectorAll(".badge")].map(el => {
    const fg = lum(rgba(getComputedStyle(el).color)), bg = lum(behind(el));
    return [el.className + " " + el.textContent.trim(),
            (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)];
  });
}"""


def test_every_badge_has_a_contrast_of_at_least_4_5_to_1(visit: Visit, site: World) -> None:
    site.publish("acme/tools/cli", "hidden-one", "1.0.0", "x.bin", b"x", status="hidden")
    visit.sign_in("root")
    seen: dict[str, float] = {}
    for scheme in ("light", "dark"):
        visit.page.emulate_media(color_scheme=scheme)
        for path in (
            "/explore",
            "/acme/tools/cli/-/packages",
            "/acme/tools/cli/-/packages?status=hidden",
            "/admin/users",
        ):
            visit.go(path)
            for badge, ratio in visit.page.evaluate(BADGE_CONTRASTS):
                seen[f"{scheme} {badge}"] = min(ratio, seen.get(f"{scheme} {badge}", ratio))
    assert any("badge-status-hidden" in b for b in seen), seen  # the kinds were there
    assert any("badge-vis-" in b for b in seen), seen
    low = {badge: round(ratio, 2) for badge, ratio in seen.items() if ratio < 4.5}
    assert not low, low


# On a phone a table row is a card and each cell's label (its data-label, drawn by
# ::before) sits in the cell's left padding: it must fit there, on one line.
LABELS_THAT_DO_NOT_FIT = """() => [...document.querySelectorAll("table.list td[data-label]")]
  .filter(td => td.offsetParent !== null)
  .flatMap(td => {
    const style = getComputedStyle(td, "::before");
    const probe = document.createElement("span");
    probe.textContent = td.dataset.label;
    probe.style.font = style.font;
    probe.style.whiteSpace = "nowrap";
    document.body.appendChild(probe);
    const width = probe.getBoundingClientRect().width;
    probe.remove();
    const room = parseFloat(getComputedStyle(td).paddingLeft);
    const oneLine = style.whiteSpace === "nowrap";
    return width < room && oneLine ? [] : [`${td.dataset.label}: ${width} of ${room}`];
  })"""


def test_phone_cards_have_room_for_their_labels(phone: Visit, site: World) -> None:
    project = site.projects["acme/tools/cli"]
    with site.api() as api:
        rule = {
            "package_name_pattern": "phone-*",
            "package_type": "generic",
            "minimum_access_level_for_push": "maintainer",
        }
        created = api.post(f"/projects/{project}/packages/protection/rules", json=rule)
        assert created.status_code == 201, created.text
    phone.sign_in("root")
    pages = (
        "/acme/tools/cli/-/settings/packages_and_registries",
        "/acme/tools/cli/-/packages",
        "/admin/users",
    )
    for path in pages:
        phone.go(path)
        assert phone.page.locator("table.list td[data-label]").count() > 0, path
        assert phone.page.evaluate(LABELS_THAT_DO_NOT_FIT) == [], path
