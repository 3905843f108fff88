"""``cargobay migrate database`` and ``cargobay migrate blobs``: move an embedded install
to PostgreSQL and S3 (services/migration.py; the procedure is in docs/deployment.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cargobay.cli.running import require_database
from cargobay.services.registry import open_local_store, open_s3_store
from cargobay.settings import Settings
from cargobay.storage.blobs.local import LocalBlobStore
from cargobay.storage.db.database import Database, async_url

if TYPE_CHECKING:
    from cargobay.services import migration


def _say(text: str) -> None:
    click.echo(text, err=True)


@click.group("migrate")
def migrate_group() -> None:
    """Move this install to PostgreSQL and S3-compatible storage. Both commands may run
    while the server serves, and again after it stopped: each run converges on the
    source's current state and skips what is already done."""


@migrate_group.command("database")
@click.option(
    "--to",
    "target_url",
    required=True,
    help="The new database, postgresql://user:password@host:5432/name (it must exist).",
)
def migrate_database(target_url: str) -> None:
    """Copy every table of the current database (CARGOBAY_DATABASE_URL, by default the
    SQLite file in the data directory) into the database at --to, ids preserved, then
    compare both row by row. Rows the source no longer has are deleted from the target."""
    from cargobay.services import migration  # boto3 loads only for this command

    settings = Settings()
    require_database(settings)
    try:
        async_url(target_url)
    except ValueError as exc:
        raise click.ClickException(f"--to: {exc}") from None

    async def main() -> migration.DatabaseCopy:
        source = Database(settings.resolved_database_url())
        target = Database(target_url)
        try:
            return await migration.copy_database(source, target, _say)
        except OSError as exc:  # refused, unreachable, unknown host: the target
            raise click.ClickException(
                f"cannot reach the database at --to: {' '.join(str(exc).split())}"
            ) from None
        finally:
            await source.dispose()
            await target.dispose()

    result = asyncio.run(main())
    if result.differences:
        for line in result.differences:
            _say(f"differs: {line}")
        raise click.ClickException("the copy differs from the source: run the command again")
    click.echo(
        f"database copied: {result.rows} rows in {len(result.tables)} tables, "
        f"{result.written} written this run; every row verified"
    )


@migrate_group.command("blobs")
@click.option(
    "--from",
    "source_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The local blob directory (default: <data_dir>/blobs).",
)
@click.option("--jobs", default=4, show_default=True, help="Blobs copied at once.")
def migrate_blobs(source_dir: Path | None, jobs: int) -> None:
    """Copy every blob the database references from the local store into the bucket the
    CARGOBAY_S3_* settings name, checking each one's sha256 on the way. Blobs already in
    the bucket with the right size and digest are skipped."""
    from cargobay.services import migration  # boto3 loads only for this command

    settings = Settings()
    require_database(settings)
    if not settings.s3_bucket:
        raise click.ClickException("set CARGOBAY_S3_BUCKET (and the other CARGOBAY_S3_*)")

    async def main() -> migration.BlobCopy:
        database = Database(settings.resolved_database_url())
        source = (
            LocalBlobStore(source_dir, chunk_size=settings.upload_chunk_size)
            if source_dir
            else open_local_store(settings)
        )
        target = open_s3_store(settings)
        try:
            return await migration.copy_blobs(database, source, target, jobs=jobs, say=_say)
        finally:
            await migration.close_quietly(source, target)
            await database.dispose()

    result = asyncio.run(main())
    for sha256 in result.missing:
        _say(f"missing or short in the local store: {sha256}")
    for sha256 in result.corrupt:
        _say(f"corrupt in the local store (sha256 differs): {sha256}")
    if not result.complete:
        raise click.ClickException(
            f"{len(result.missing) + len(result.corrupt)} blobs could not be copied"
        )
    click.echo(
        f"blobs copied: {result.copied} new ({result.bytes_copied} bytes), "
        f"{result.skipped} already in the bucket; every one verified"
    )
