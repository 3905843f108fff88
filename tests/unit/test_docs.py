"""Documentation that must not drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cargobay.settings import Settings

DOCS = Path(__file__).parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`CARGOBAY_{name.upper()}`" not in text]
    assert missing == [], f"document these settings in docs/configuration.md: {missing}"


def test_every_setting_has_help_text() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def _sections(doc: str) -> set[str]:
    """The section numbers of a document's headings: ``## 5.1 ...`` -> ``5.1``."""
    found = set()
    for line in (DOCS / doc).read_text().splitlines():
        if line.startswith("#"):
            number = line.lstrip("#").strip().split(" ", 1)[0].rstrip(".")
            if number[:1].isdigit():
                found.add(number)
    return found


def _cited(kind: str) -> dict[str, list[str]]:
    pattern = re.compile(rf"\b{kind} §(\d+[a-z]?(?:\.\d+)?)")
    cited: dict[str, list[str]] = {}
    root = DOCS.parent
    for path in [*root.glob("src/**/*.py"), *root.glob("tests/**/*.py"), *DOCS.glob("*.md")]:
        for number in pattern.findall(path.read_text()):
            cited.setdefault(number, []).append(str(path.relative_to(root)))
    return cited


@pytest.mark.parametrize(("kind", "doc"), [("spec", "gitlab-api.md"), ("design", "design.md")])
def test_every_cited_section_exists(kind: str, doc: str) -> None:
    """``spec §N`` is a section of docs/gitlab-api.md, ``design §N`` one of docs/design.md."""
    sections = _sections(doc)
    missing = {n: where for n, where in _cited(kind).items() if n not in sections}
    assert missing == {}, f"cited but not in docs/{doc}: {missing}"
