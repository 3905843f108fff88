"""One typed Settings object, read once from ``CARGOBAY_*`` environment variables.

Every field carries help text: the CLI prints it (``cargobay settings``) and
docs/configuration.md is checked against it by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    database_pool_size: int = Field(
        10,
        ge=1,
        description=(
            "PostgreSQL connections each worker process keeps open (as many again may "
            "open under load). Size max_connections for nodes x workers x 2 x this."
        ),
    )
    blob_store: Literal["local", "s3"] = Field(
        "local",
        description=(
            "Where file contents live: 'local' (<data_dir>/blobs) or 's3' (an S3-compatible "
            "bucket, see the s3_* settings; needed when several nodes serve one registry)."
        ),
    )
    s3_endpoint: str = Field(
        "",
        description=(
            "S3 endpoint URL (http://minio:9000, https://s3.eu-west-1.amazonaws.com). "
            "Empty means AWS S3 for s3_region."
        ),
    )
    s3_region: str = Field("us-east-1", description="S3 region (signing region).")
    s3_bucket: str = Field("", description="S3 bucket holding the blobs; it must exist.")
    s3_prefix: str = Field(
        "",
        description="Key prefix inside the bucket (several registries may share one bucket).",
    )
    s3_access_key_id: str = Field(
        "",
        description=(
            "S3 access key id. Empty: the AWS default chain (environment, shared config, "
            "instance or pod role)."
        ),
    )
    s3_secret_access_key: SecretStr = Field(
        SecretStr(""), description="S3 secret access key (never printed)."
    )
    s3_path_style: bool = Field(
        False,
        description=(
            "Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> "
            "(MinIO, SeaweedFS and Ceph usually need true)."
        ),
    )
    s3_part_size: int = Field(
        8 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        le=5 * GIB,
        description=(
            "Bytes per part of a multipart upload (S3 needs at least 5 MiB). Memory per "
            "upload is about 4 parts; parts double in size every 1000, so any object fits "
            "in S3's 10000 parts."
        ),
    )
    s3_download: Literal["proxy", "redirect"] = Field(
        "proxy",
        description=(
            "'proxy': the server streams downloads from the bucket (Range supported). "
            "'redirect': it answers 302 to a presigned URL, so bytes flow from the object "
            "store to the client directly."
        ),
    )
    s3_url_expiry: int = Field(
        300, ge=1, description="Seconds a presigned download URL stays valid (redirect mode)."
    )
    host: str = Field("127.0.0.1", description="Address `cargobay serve` binds to.")
    port: int = Field(8080, description="Port `cargobay serve` listens on.")
    workers: int = Field(
        0, ge=0, description="Server worker processes; 0 means one per CPU the server may use."
    )
    external_url: str = Field(
        "",
        description=(
            "Public base URL (https://packages.example.com). Used in Link headers and "
            "_links; empty means the request's own base URL."
        ),
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description=(
            "Addresses and networks (comma-separated; * for any) of proxies whose "
            "X-Forwarded-For and X-Forwarded-Proto are believed: the client address that "
            "audit events record, and the scheme of built URLs. Empty: believe none."
        ),
    )
    auth_ban_max_failures: int = Field(
        10,
        ge=0,
        description=(
            "Failed authentications (401 to a request carrying a token or Basic "
            "credentials) from one client address within auth_ban_window_seconds that ban "
            "it: its requests with credentials are then answered 429 with Retry-After. "
            "GitLab's Rack::Attack default is 10. 0 turns the ban off. Counted per worker "
            "process."
        ),
    )
    auth_ban_window_seconds: float = Field(
        60.0, gt=0, description="Seconds over which failed authentications are counted."
    )
    auth_ban_seconds: float = Field(
        3600.0, gt=0, description="Seconds a banned client address waits (GitLab: one hour)."
    )
    accel_redirect: str = Field(
        "",
        pattern=r"^(/.*/)?$",
        description=(
            "nginx location (/_cargobay/blobs/) that serves <data_dir>/blobs/ as an "
            "internal alias. A download of a local file that nginx marks with "
            "'X-Sendfile-Type: X-Accel-Redirect' is then answered with an X-Accel-Redirect "
            "header and nginx sends the bytes with sendfile (docs/deployment.md). Empty: "
            "the server sends every file itself."
        ),
    )
    concurrent_uploads: int = Field(
        16,
        ge=1,
        description=(
            "Upload bodies each worker process receives at once; later ones wait, their "
            "bytes still in the socket. Each holds up to two upload_chunk_size buffers (and "
            "the parts in flight on S3), so this bounds a worker's memory. An upload whose "
            "client makes it wait for its next chunk gives its slot to a queued one."
        ),
    )
    upload_queue_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "How long an upload waits for one of the concurrent_uploads slots before it is "
            "answered 503 with Retry-After."
        ),
    )
    upload_idle_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "An upload whose client sends nothing for this long is answered 408 and its "
            "connection closed; what it sent is discarded."
        ),
    )
    archive_max_files: int = Field(
        10_000,
        ge=0,
        description=(
            "Most files one package archive (~archive.zip, .tar, .tar.gz) may hold; more "
            "answers 400 before the first byte. 0 means no limit."
        ),
    )
    archive_max_bytes: int = Field(
        0,
        ge=0,
        description="Most bytes of files one package archive may hold; 0 means no limit.",
    )
    archive_concurrency: int = Field(
        4,
        ge=1,
        description=(
            "Package archives one worker streams at once; one more answers 503 with Retry-After."
        ),
    )
    archive_gzip_level: int = Field(
        1,
        ge=0,
        le=9,
        description=(
            "gzip level of ~archive.tar.gz: 1 keeps a core free on large packages (most "
            "release files are compressed already)."
        ),
    )
    verify_upload_checksums: bool = Field(
        True,
        description=(
            "Check the checksums an upload's headers assert (X-Checksum-Sha256, "
            "Content-MD5, Content-Digest...; docs/extensions.md) and refuse a body that "
            "does not match them. false ignores them, as GitLab does: for clients that "
            "send stale headers."
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
    # Scheduled work (issue 4): every server process runs the scheduler; the database
    # hands each due run to exactly one of them.
    scheduler_enabled: bool = Field(
        True,
        description=(
            "Run scheduled work (cleanup policies, garbage collection) inside each server "
            "process. The database makes sure one process takes each due run."
        ),
    )
    scheduler_poll_seconds: float = Field(
        60.0, gt=0, description="How often a server process looks for due scheduled work."
    )
    cleanup_interval_seconds: float = Field(
        12 * 3600.0,
        gt=0,
        description=(
            "Seconds between runs of a project's cleanup policy (GitLab: 12 hours). A "
            "changed policy first runs one interval after the change."
        ),
    )
    gc_interval_seconds: float = Field(
        12 * 3600.0, gt=0, description="Seconds between scheduled garbage collections."
    )
    gc_grace_period_seconds: float = Field(
        24 * 3600.0,
        ge=0,
        description=(
            "The garbage collector leaves unreferenced blobs and unfinished uploads alone "
            "until they are this old. Keep it far above the longest upload."
        ),
    )
    download_count_flush_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "How often a server process writes the downloads it counted to the database "
            "(and when it stops): download counts lag by at most this much."
        ),
    )

    # Observability (issue 18, docs/deployment.md "Monitoring")
    metrics_enabled: bool = Field(
        True,
        description=(
            "Count requests, uploads, downloads and scheduled work, and serve them as "
            "Prometheus metrics at /-/metrics."
        ),
    )
    metrics_dir: Path | None = Field(
        None,
        description=(
            "Directory where the workers of `cargobay serve --workers N` (N > 1) keep their "
            "metric files (prometheus-client's multiprocess mode), emptied of them at each "
            "start. Local disk, one per node. Empty: <data_dir>/tmp/metrics."
        ),
    )
    monitoring_allowlist: str = Field(
        "127.0.0.0/8,::1/128",
        description=(
            "Addresses and networks (comma-separated; * for any) that may read /-/metrics "
            "(GitLab's monitoring_whitelist); others get 404. The client address is the "
            "one trusted_proxies forward."
        ),
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description=(
            "If set, 'Authorization: Bearer <token>' also opens /-/metrics, from any "
            "address (never printed)."
        ),
    )
    access_log: bool = Field(
        True, description="Log one line per request (method, route, status, duration, bytes)."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description=(
            "Log lines as JSON (one object per line) or human-readable text; 'auto': text "
            "when stderr is a terminal, JSON otherwise."
        ),
    )
    log_health: bool = Field(
        False,
        description="Also log requests to /-/health, /-/liveness, /-/readiness and /-/metrics.",
    )

    session_secret: SecretStr = Field(
        SecretStr(""),
        description=(
            "Key that signs web session cookies (never printed). Empty: a random key kept "
            "in <data_dir>/session_secret. Give every node the same value when several "
            "nodes serve one registry; changing it signs everyone out."
        ),
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cargobay.db').resolve()}"
