"""How a ``cargobay`` command runs its work: with the schema upgraded, in a registry of
its own, closed afterwards; a Cargobay error becomes the command's error message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from cargobay.errors import CargobayError
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.storage.db.migrate import upgrade

T = TypeVar("T")


def run(work: Callable[[Registry], Awaitable[T]], settings: Settings) -> T:
    upgrade(settings.resolved_database_url())

    async def main() -> T:
        registry = open_registry(settings)
        try:
            return await work(registry)
        finally:
            await registry.close()

    try:
        return asyncio.run(main())
    except CargobayError as exc:
        text = exc.body.get("message") or exc.body.get("error") or exc.body
        raise click.ClickException(str(text)) from None
