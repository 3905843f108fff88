"""SQL expressions and helpers every aggregate module shares: constants written into the
statement text, the namespace-ancestry test, INSERT with ON CONFLICT in the connection's
dialect, LIKE patterns with their wildcards escaped, and paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cargobay.storage.db.database import Connection

T = TypeVar("T")

COUNT_LIMIT = 10_000  # GitLab caps the counts of package lists


def sql_literal(value: str | int) -> ColumnElement[Any]:
    """A constant written into the SQL text rather than bound: statements on hot paths
    then bind only what varies, and SQLite plans with the value in view."""
    if isinstance(value, int):
        return literal_column(str(int(value)))
    return literal_column("'" + value.replace("'", "''") + "'")


def is_ancestor(namespace_path: ColumnElement[str], project_path: Any) -> ColumnElement[bool]:
    """The namespace at ``namespace_path`` holds the project at ``project_path``, directly
    or through subgroups. ``project_path`` may be a value or a column."""
    one = sql_literal(1)
    return func.substr(project_path, one, func.length(namespace_path) + one) == (
        namespace_path.concat(sql_literal("/"))
    )


def insert_ignoring_conflicts(conn: Connection, table: Any) -> Any:
    """INSERT with ON CONFLICT clauses (``on_conflict_do_nothing``/``_do_update``), in the
    connection's dialect."""
    return (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(table)


def like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally (``_`` is legal in names and paths);
    use with ``escape="\\\\"``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    """A LIKE pattern for lower-cased values that contain ``text``."""
    return f"%{like_escape(text.lower())}%"


def under(path: str) -> str:
    """A LIKE pattern for every path strictly below ``path``."""
    return f"{like_escape(path)}/%"


async def page_of(
    conn: Connection,
    query: Select[Any],
    offset: int,
    limit: int,
    record: Callable[[Row[Any]], T],
) -> tuple[list[T], int]:
    """One page of ``query`` as records, and the total number of rows it matches."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    total = int((await conn.execute(counted)).scalar_one())
    rows = (await conn.execute(query.offset(offset).limit(limit))).all()
    return [record(row) for row in rows], total


async def capped_page_of(
    conn: Connection,
    query: Select[Any],
    order: Sequence[Any],
    *,
    key: Any,
    offset: int,
    limit: int,
) -> tuple[list[Any], int | None, bool]:
    """(rows, total or None past COUNT_LIMIT, whether a next page exists). ``key`` is the
    primary-key column counted (capped, as GitLab caps its counts)."""
    rows = list(await conn.execute(query.order_by(*order).offset(offset).limit(limit + 1)))
    has_next = len(rows) > limit
    counted = select(func.count()).select_from(
        query.with_only_columns(key).limit(COUNT_LIMIT + 1).subquery()
    )
    total = int((await conn.execute(counted)).scalar_one())
    return rows[:limit], (total if total <= COUNT_LIMIT else None), has_next


async def ping(conn: Connection) -> None:
    """The cheapest statement: whether the database answers (the readiness probe)."""
    await conn.execute(text("SELECT 1"))
