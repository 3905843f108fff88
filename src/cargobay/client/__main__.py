"""``python -m cargobay.client COMMAND``: the client commands alone (docs/cli.md)."""

from cargobay.client.cli import client

if __name__ == "__main__":
    client(prog_name="cargobay")
