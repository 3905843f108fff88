"""Running the ``cargobay`` command against a test's registry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cargobay.settings import Settings

CARGOBAY = str(Path(sys.executable).parent / "cargobay")


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a ``cargobay`` command needs to work on this test's registry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    env.update(
        CARGOBAY_DATA_DIR=str(settings.data_dir), CARGOBAY_DATABASE_URL=settings.database_url
    )
    return env
