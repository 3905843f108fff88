"""The layers of docs/architecture.md import only downwards. An ast walk over src/cargobay
(every ``import`` and ``from ... import``, in functions too); a new import that breaks a
rule fails here with the module and the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "cargobay"

# Packages of cargobay, each with the cargobay packages it may import ("*": any). Anything
# not listed here may not be imported by it. Third-party imports are checked separately.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "domain": {"domain", "errors"},
    "settings": set(),
    "auth": {"auth", "domain", "errors", "storage"},
    "storage": {"storage", "domain", "errors", "settings"},
    "services": {"services", "domain", "errors", "auth", "storage", "settings"},
    "api": {"api", "services", "domain", "errors", "auth", "storage", "settings"},
    "web": {"web", "api", "services", "domain", "errors", "auth", "storage", "settings"},
    "client": {"client", "domain"},
    "cli": {"*"},
    "app": {"*"},
    "serving": {"*"},
    "__init__": set(),
    "__main__": {"*"},
}
# Only the SQL layer speaks SQLAlchemy: everything above it gets records.
SQL_PACKAGES = ("sqlalchemy", "alembic")
SQL_ALLOWED = {"storage"}
# Above storage, only these storage.db modules' own names are imported: the tables
# never leave storage/.
NEVER_ABOVE_STORAGE = ("cargobay.storage.db.tables",)


def _layer(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        layer = _layer(path)
        allowed = ALLOWED.get(layer)
        where = path.relative_to(SRC.parent)
        if allowed is None:
            problems.append(f"{where}: layer {layer!r} is not in tests/unit/test_layers.py")
            continue
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in SQL_PACKAGES and layer not in SQL_ALLOWED:
                problems.append(f"{where}:{line} imports {name} (SQL stays in storage/)")
            if top != "cargobay" or name == "cargobay":
                continue
            target = name.split(".")[1]
            if "*" not in allowed and target not in allowed and target != layer:
                problems.append(f"{where}:{line} ({layer}) imports {name}")
            if layer != "storage" and name.startswith(NEVER_ABOVE_STORAGE):
                problems.append(f"{where}:{line} imports {name} (tables stay in storage/)")
    return problems


def test_layers_import_only_downwards() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from cargobay.api.params import decoded\n", "(services) imports cargobay.api"),
        ("import sqlalchemy\n", "imports sqlalchemy (SQL stays in storage/)"),
        ("from cargobay.storage.db.tables import users\n", "(tables stay in storage/)"),
    ],
)
def test_the_walk_catches_a_wrong_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    """The check itself: a service module with a forbidden import is reported."""
    root = tmp_path / "cargobay"
    (root / "services").mkdir(parents=True)
    (root / "services" / "bad.py").write_text(source)
    monkeypatch.setattr(f"{__name__}.SRC", root)
    assert any(expected in problem for problem in _violations())


def test_domain_is_pure() -> None:
    """domain/ imports no I/O: only the standard library, re2 and itself."""
    stdlib_io = {"sqlite3", "socket", "asyncio", "anyio", "httpx", "starlette", "boto3"}
    bad = [
        f"{path.name}:{line} {name}"
        for path in sorted((SRC / "domain").glob("*.py"))
        for line, name in _imports(path)
        if name.split(".")[0] in stdlib_io
    ]
    assert bad == []
