"""One typed Settings object, read once from ``CARGOBAY_*`` environment variables.

Every field carries help text: the CLI prints it (``cargobay settings``) and
docs/configuration.md is checked against it by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GIB = 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARGOBAY_", extra="ignore")

    data_dir: Path = Field(
        Path("data"),
        description="Directory for the SQLite database and the local blob store.",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of the metadata database. Empty means sqlite:///<data_dir>/cargobay.db."
        ),
    )
    blob_store: Literal["local"] = Field(
        "local", description="Where file contents live: 'local' (<data_dir>/blobs)."
    )
    host: str = Field("127.0.0.1", description="Address `cargobay serve` binds to.")
    port: int = Field(8080, description="Port `cargobay serve` listens on.")
    workers: int = Field(1, ge=1, description="Server worker processes.")
    external_url: str = Field(
        "",
        description=(
            "Public base URL (https://packages.example.com). Used in Link headers and "
            "_links; empty means the request's own base URL."
        ),
    )
    max_file_size: int = Field(
        5 * GIB,
        ge=0,
        description=(
            "Default generic_packages_max_file_size in bytes; a file of this size or "
            "larger is refused. 0 means no limit."
        ),
    )
    guests_can_pull: bool = Field(
        True,
        description=(
            "Members with the Guest role may download and list packages (newest GitLab). "
            "False restores the older Reporter-or-above rule."
        ),
    )
    upload_chunk_size: int = Field(
        1024 * 1024,
        ge=64 * 1024,
        description="Bytes hashed and written per step while an upload streams in.",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cargobay.db').resolve()}"
