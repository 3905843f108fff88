"""The ``cargobay`` script (pyproject's ``[project.scripts]``).

A client command (``publish``, ``fetch``, ``ls``, ``rm``, ``login``, ``logout``:
docs/cli.md) runs on the client's own group, so ``cargobay publish`` in a CI job starts
without importing the server (SQLAlchemy, Alembic, the services). Anything else,
``--help`` and ``--version`` included, goes to cli/main.py's full group, which lists the
client commands too.
"""

from __future__ import annotations

import sys

from cargobay.client.cli import COMMANDS, client


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in {c.name for c in COMMANDS}:
        client(prog_name="cargobay")
    else:
        from cargobay.cli.main import main as everything  # here: it loads the server stack

        everything(prog_name="cargobay")
