"""How a ``cargobay`` command runs its work: on the data directory ``--data-dir`` (or
CARGOBAY_DATA_DIR) names, with the schema upgraded, in a registry of its own, closed
afterwards. Every failure a user can cause ends here as one ``Error: …`` line on stderr
and exit status 1 (click's own usage errors keep status 2): :class:`Group` is the one
place that turns Cargobay's HTTP-style errors and database errors into that line."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from cargobay.domain.networks import parse_networks
from cargobay.errors import CargobayError
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.storage.db.database import DATABASE_ERRORS, database_error_text
from cargobay.storage.db.migrate import upgrade

T = TypeVar("T")

DATA_DIR_HELP = "Data directory (CARGOBAY_DATA_DIR, default ./data)."


def _export_data_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        os.environ["CARGOBAY_DATA_DIR"] = value


def data_dir_option() -> click.Option:
    """``--data-dir``: overrides CARGOBAY_DATA_DIR for this command (and, exported, for
    what it starts)."""
    return click.Option(
        ["--data-dir"],
        metavar="DIR",
        help=DATA_DIR_HELP,
        expose_value=False,
        is_eager=True,
        callback=_export_data_dir,
    )


def add_data_dir_option(command: click.Command) -> None:
    """Give ``command`` (and every subcommand of a group) a ``--data-dir`` option."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_data_dir_option(sub)
        return
    if not any(p.name == "data_dir" for p in command.params):
        command.params.append(data_dir_option())


def require_database(settings: Settings) -> None:
    """Refuse to work on a data directory without a database rather than create an empty
    one: an operator who forgot ``--data-dir`` would otherwise get a fresh registry and
    errors like ``404 Namespace Not Found``. A PostgreSQL (or any explicit) URL is used
    as given."""
    if settings.database_url:
        return
    where = settings.data_dir.resolve()
    if not (where / "cargobay.db").is_file():
        raise click.ClickException(
            f"no Cargobay database in {where}: pass --data-dir (or set CARGOBAY_DATA_DIR) "
            "to the directory `cargobay serve` uses, or create one there with "
            "`cargobay db upgrade`"
        )


def run(work: Callable[[Registry], Awaitable[T]], settings: Settings, *, create: bool = False) -> T:
    """Run ``work`` on the registry ``settings`` name. ``create``: make the database if
    there is none (``admin bootstrap``); otherwise a missing one is an error."""
    if not create:
        require_database(settings)
    upgrade(settings.resolved_database_url())

    async def main() -> T:
        registry = open_registry(settings)
        try:
            return await work(registry)
        finally:
            await registry.close()

    return asyncio.run(main())


def parse_day(value: str | None, option: str = "--expires") -> date | None:
    """``YYYY-MM-DD``, or an error naming the option."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.ClickException(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or timestamp, or an error naming the option."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.ClickException(
            f"{option}: {value!r} is not a date or an ISO 8601 time (YYYY-MM-DD[THH:MM:SS])"
        ) from None


def error_text(exc: CargobayError) -> str:
    """The one line of a service error: GitLab's ``message`` (or ``error``) text."""
    text: Any = exc.body.get("message") or exc.body.get("error") or exc.body
    if isinstance(text, dict):  # render_validation_error!: {"field": ["is invalid"]}
        text = "; ".join(
            f"{field} {', '.join(map(str, problems)) if isinstance(problems, list) else problems}"
            for field, problems in text.items()
        )
    return " ".join(str(text).split())


def settings_error_text(exc: ValidationError) -> str:
    """Which settings were refused, and why, by their environment variables."""
    return "; ".join(
        f"CARGOBAY_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}"
        for error in exc.errors()
    )


def check_networks(settings: Settings) -> None:
    """The address lists, read at start: a typo must stop the server, not answer its
    first /-/metrics request with a 500."""
    for name in ("trusted_proxies", "monitoring_allowlist"):
        try:
            parse_networks(getattr(settings, name))
        except ValueError as exc:
            raise click.ClickException(f"CARGOBAY_{name.upper()}: {exc}") from None


class Group(click.Group):
    """The ``cargobay`` group: every subcommand's errors become one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CargobayError as exc:
            raise click.ClickException(error_text(exc)) from None
        except DATABASE_ERRORS as exc:
            raise click.ClickException(database_error_text(exc)) from None
        except ValidationError as exc:  # a CARGOBAY_* setting Settings() refused
            raise click.ClickException(settings_error_text(exc)) from None
        except (ConnectionError, TimeoutError, OSError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            raise click.ClickException(" ".join(str(exc).split())) from None


def program_name(argv0: str) -> str:
    """How to print a command so that it works when pasted: ``cargobay`` when that name
    finds this very program on PATH, otherwise the path it was invoked by."""
    import shutil

    found = shutil.which("cargobay")
    if not argv0 or not Path(argv0).exists():
        return "cargobay"
    if found and Path(found).resolve() == Path(argv0).resolve():
        return "cargobay"
    return argv0
