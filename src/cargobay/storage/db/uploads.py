"""The SQL of the upload path, each statement built and prepared once (database.py's
``Prepared``), with bound parameters.

Building a statement costs more than running it here: an upload's checks and record
built afresh took ~3 ms of CPU in SQLAlchemy's expression code per 1 KiB upload, several
times SQLite's own work; SQLAlchemy's execution of a built statement still cost several
times SQLite's, which ``Prepared`` skips on SQLite.

- ``CHECKS``: everything that can refuse an upload, in one statement: the size limit,
  the ``generic_packages`` flag, push protection, and whether a live file of that name
  exists with the namespace's duplicate settings. Run before the body, and again inside
  the write transaction (a rule or a file may have appeared while the body streamed).
- The record: the blob row, the package (found or created, and locked), the file row.
- ``readable_blob``: checksum-deploy's lookup, content already served in the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from cargobay.domain.models import FileStatus, Package, PackageFile, PackageStatus, PackageType
from cargobay.storage.blobs.base import StoredBlob
from cargobay.storage.db.database import Connection, Prepared, fetch
from cargobay.storage.db.packages import not_pending_destruction
from cargobay.storage.db.policies import _max_file_size, gate_for, protection_applies
from cargobay.storage.db.records import to_file, to_package
from cargobay.storage.db.tables import blobs, namespaces, package_files, packages


@dataclass(frozen=True, slots=True)
class UploadChecks:
    max_file_size: int | None  # None: the setting's default
    generic_enabled: bool | None  # None: the flag's default
    push_protected: bool
    file_exists: bool  # a live file of that name in the live package
    duplicates_allowed: bool
    duplicate_exception_regex: str


def _same_package() -> Any:
    return (
        packages.c.project_id == bindparam("project_id"),
        packages.c.package_type == int(PackageType.generic),
        packages.c.name == bindparam("name"),
        packages.c.version == bindparam("version"),
        not_pending_destruction(packages),
    )


_namespace = namespaces.alias("upload_namespace")
CHECKS = Prepared(
    select(
        _max_file_size().label("max_file_size"),
        gate_for("generic_packages", bindparam("project_id"), bindparam("full_path")).label(
            "enabled"
        ),
        protection_applies(
            bindparam("project_id"), bindparam("name"), action="push", below=bindparam("level")
        ).label("protected"),
        exists()
        .where(
            *_same_package(),
            package_files.c.package_id == packages.c.id,
            package_files.c.file_name == bindparam("file_name"),
            package_files.c.status != int(FileStatus.pending_destruction),
        )
        .label("file_exists"),
        _namespace.c.generic_duplicates_allowed,
        _namespace.c.generic_duplicate_exception_regex,
    ).where(_namespace.c.id == bindparam("namespace_id"))
)


async def checks(
    conn: Connection,
    *,
    project_id: int,
    full_path: str,
    namespace_id: int,
    name: str,
    version: str,
    file_name: str,
    push_level: int,
) -> UploadChecks:
    (row,) = await fetch(
        conn,
        CHECKS,
        {
            "project_id": project_id,
            "full_path": full_path,
            "namespace_id": namespace_id,
            "name": name,
            "version": version,
            "file_name": file_name,
            "level": push_level,
        },
    )
    size, enabled = row["max_file_size"], row["enabled"]
    return UploadChecks(
        None if size is None else int(size),
        None if enabled is None else bool(enabled),
        bool(row["protected"]),
        bool(row["file_exists"]),
        bool(row["generic_duplicates_allowed"]),
        str(row["generic_duplicate_exception_regex"]),
    )


def _dialect_forms(build: Any) -> dict[str, Prepared]:
    return {
        "sqlite": Prepared(build(sqlite.insert)),
        "postgresql": Prepared(build(postgresql.insert)),
    }


# The inserts take their values at execution: a dict of column values.

# A conflict "updates" the known row to itself: one statement returns its key either way
# and locks the row until this transaction commits, so the garbage collector cannot
# delete it before the file row that references it exists (and the foreign key refuses
# the collector after that).
_RECORD_BLOB = _dialect_forms(
    lambda dialect_insert: (
        dialect_insert(blobs)
        .on_conflict_do_update(
            index_elements=[blobs.c.sha256], set_={"storage_key": blobs.c.storage_key}
        )
        .returning(blobs.c.storage_key)
    )
)

# Parallel first uploads race on the partial unique index: the loser's insert waits for
# the winner's commit (PostgreSQL) or its turn (SQLite), does nothing and reads the
# winner's row.
_CREATE_PACKAGE = _dialect_forms(
    lambda dialect_insert: (
        dialect_insert(packages).on_conflict_do_nothing().returning(packages.c.id)
    )
)

# The lock makes concurrent uploads into one package take turns (PostgreSQL; SQLite's
# write transactions are serialised already), so the checks that follow see every file
# committed before them.
_LIVE_PACKAGE = Prepared(
    select(packages)
    .where(*_same_package())
    .order_by(packages.c.id.desc())
    .limit(1)
    .with_for_update()
)

_INSERT_FILE = Prepared(insert(package_files).returning(package_files))


async def record_blob(conn: Connection, blob: StoredBlob, now: datetime) -> str | None:
    """Record a stored blob unless its content is known already; return the storage key
    the row holds. A key other than ``blob.key`` means this copy is redundant."""
    values = {
        "sha256": blob.sha256,
        "size": blob.size,
        "md5": blob.md5,
        "sha1": blob.sha1,
        "created_at": now,
        "storage_key": blob.key,
    }
    (row,) = await fetch(conn, _RECORD_BLOB[conn.dialect.name], values)
    return row["storage_key"]  # type: ignore[no-any-return]


async def live_package(
    conn: Connection,
    *,
    project_id: int,
    name: str,
    version: str,
    status: PackageStatus,
    creator_id: int | None,
    now: datetime,
) -> tuple[Package, bool]:
    """The live generic package, created if need be and locked for the rest of the
    transaction; True if this call created it."""
    values = {"project_id": project_id, "name": name, "version": version}
    new = {
        **values,
        "package_type": int(PackageType.generic),
        "status": int(status),
        "creator_id": creator_id,
        "created_at": now,
        "updated_at": now,
    }
    created = bool(await fetch(conn, _CREATE_PACKAGE[conn.dialect.name], new))
    (package,) = await fetch(conn, _LIVE_PACKAGE, values)
    return to_package(package), created


async def insert_file(
    conn: Connection,
    *,
    package_id: int,
    stored_name: str,
    blob: StoredBlob,
    pipeline_id: int | None,
    now: datetime,
) -> PackageFile:
    values = {
        "package_id": package_id,
        "file_name": stored_name,
        "size": blob.size,
        "file_md5": blob.md5,
        "file_sha1": blob.sha1,
        "file_sha256": blob.sha256,
        "status": int(FileStatus.default),
        "pipeline_id": pipeline_id,
        "created_at": now,
        "updated_at": now,
    }
    (row,) = await fetch(conn, _INSERT_FILE, values)
    return to_file(row)


# A blob a live file of a live package in the project serves, locked until the
# transaction ends: the collector cannot drop its row before the new file references it,
# and a row it dropped already is not found (SQLite's writers take turns anyway).
_READABLE_BLOB = (
    select(blobs)
    .where(
        blobs.c.sha256 == bindparam("sha256"),
        exists().where(
            package_files.c.file_sha256 == blobs.c.sha256,
            package_files.c.status == int(FileStatus.default),
            packages.c.id == package_files.c.package_id,
            packages.c.project_id == bindparam("project_id"),
            not_pending_destruction(packages),
        ),
    )
    .with_for_update()
)


async def readable_blob(conn: Connection, project_id: int, sha256: str) -> StoredBlob | None:
    """The stored blob with this sha256 if the project already serves it (checksum-deploy:
    never content only another project holds, so the lookup tells nobody what exists
    elsewhere on the server)."""
    row = (await conn.execute(_READABLE_BLOB, {"sha256": sha256, "project_id": project_id})).first()
    if row is None:
        return None
    return StoredBlob(row.sha256, row.sha1, row.md5, row.size, row.storage_key)
