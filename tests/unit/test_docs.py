"""Documentation that must not drift from the code."""

from __future__ import annotations

from pathlib import Path

from cargobay.settings import Settings

DOCS = Path(__file__).parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`CARGOBAY_{name.upper()}`" not in text]
    assert missing == [], f"document these settings in docs/configuration.md: {missing}"


def test_every_setting_has_help_text() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []
