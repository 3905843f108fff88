"""``python -m cargobay.client COMMAND``: the client commands alone, without the server's
``cargobay`` group (the same commands, for environments that install only the client)."""

from __future__ import annotations

import click

from cargobay.client.cli import COMMANDS


@click.group()
def client() -> None:
    """Cargobay's client: publish, fetch, ls, rm, login, logout (docs/cli.md)."""


for _command in COMMANDS:
    client.add_command(_command)

if __name__ == "__main__":
    client()
