"""A real ``cargobay serve`` process on loopback, and the ``cargobay admin`` CLI beside it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
# SeaweedFS, used by the scale-out suite, binds these: keep servers off them.
RESERVED_PORTS = {8333, 8888, 9333, 9340, 18333, 18888, 19333, 19340, 23646, 33646}


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    token: str = ""  # the bootstrap administrator's, once a fixture set it

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v4"

    def cli(self, *args: str) -> str:
        """Run ``cargobay <args>`` against this server's data; return its stdout."""
        result = subprocess.run(
            [str(BIN / "cargobay"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cargobay {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def start(self, *extra: str) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "cargobay"), "serve", "--port", str(self.port), *extra],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Generous: on a loaded 2-core machine two workers have taken over 30 s to start.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/-/readiness", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()  # never leave a half-started server behind
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


def make_server(tmp: Path, **settings: str) -> Server:
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    env["CARGOBAY_DATA_DIR"] = str(data)
    # One worker unless a test asks for more (workers="0" is serve's default, one per
    # CPU): the suite starts dozens of servers, and each worker is an interpreter to boot.
    env["CARGOBAY_WORKERS"] = "1"
    env.update({f"CARGOBAY_{k.upper()}": v for k, v in settings.items()})
    return Server(data, env)
