"""Publishing a directory: ``cargobay publish --jobs 8`` against the sequential
``curl --upload-file`` loop a CI script would run (one curl process per file, GitLab's
docs' own way), in the same run, on the embedded default (SQLite + local blobs).

    .venv/bin/python -m bench.publish [--runs N] [--files N] [--jobs N] [--workers N]
                                      [--quick] [--out FILE]

The server runs as ``cargobay serve`` starts by default, one worker per CPU (``--workers``
to change it). The tree: 300 files of 4 KiB of random bytes in 10 directories (``--quick``: 100 files,
one run). Per run, in turn after a sync, each into a version of its own: the curl loop,
then ``cargobay publish`` (a process, started as a user starts it, so both sides pay for
their process starts), then ``cargobay publish`` again of the unchanged tree into the
same version, which must upload nothing (incremental: one listing, every file skipped),
then ``python -m cargobay.client publish`` (the same code without the server's imports),
and the start of each command alone (``--help``).
files/s are of the tree's files; the ratio is the curl loop's median time over the
client's. Every version is checked on the server to hold exactly the tree's files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from tests.e2e.server import BIN

from bench.run import cargobay, cpu_probe, progress, stats

KIB = 1024


def make_tree(root: Path, files: int, size: int) -> list[str]:
    paths = [f"dir-{i % 10:02}/file-{i:04}.bin" for i in range(files)]
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return paths


def curl_loop(tree: Path, paths: list[str], token: str, base: str) -> float:
    """Seconds of ``for f in files: curl --upload-file f URL/f``, one process per file."""
    start = time.perf_counter()
    for rel in paths:
        subprocess.run(
            [
                "curl",
                "--silent",
                "--show-error",
                "--fail",
                "--output",
                "/dev/null",
                "--header",
                f"PRIVATE-TOKEN: {token}",
                "--upload-file",
                str(tree / rel),
                f"{base}/{rel}",
            ],
            check=True,
        )
    return time.perf_counter() - start


CARGOBAY = [str(BIN / "cargobay")]
# The same commands without the server's (python -m cargobay.client): no SQLAlchemy,
# granian or boto3 to import at start.
CLIENT_ONLY = [sys.executable, "-m", "cargobay.client"]


def startup(command: list[str]) -> float:
    """Seconds of ``COMMAND --help``: the process start and imports alone."""
    start = time.perf_counter()
    subprocess.run([*command, "--help"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def publish(
    tree: Path, env: dict[str, str], version: str, jobs: int, command: list[str] = CARGOBAY
) -> tuple[float, Any]:
    """Seconds of one ``cargobay publish`` process, and its --json summary."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            *command,
            "publish",
            str(tree),
            "--name",
            "tree",
            "--version",
            version,
            "--jobs",
            str(jobs),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"cargobay publish failed: {done.stderr}")
    return seconds, json.loads(done.stdout)


def stored(api: str, token: str, version: str) -> list[str]:
    """The names the server holds for tree/<version>, every copy."""
    headers = {"PRIVATE-TOKEN": token}
    project = f"{api}/projects/root%2Fbench"
    (package,) = [
        p
        for p in httpx.get(
            f"{project}/packages",
            params={"package_name": "tree", "package_version": version},
            headers=headers,
        ).json()
        if p["name"] == "tree" and p["version"] == version
    ]
    names: list[str] = []
    page = 1
    while True:
        answer = httpx.get(
            f"{project}/packages/{package['id']}/package_files",
            params={"per_page": 100, "page": page},
            headers=headers,
        )
        names += [unquote(f["file_name"]) for f in answer.json()]
        if not answer.headers.get("X-Next-Page"):
            return names
        page += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=4 * KIB)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=0, help="server workers (0: serve's default, one per CPU)"
    )
    parser.add_argument("--quick", action="store_true", help="100 files, one run")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "publish.json"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.files = 1, min(args.files, 100)
    probe_start = cpu_probe()
    curl_s: list[float] = []
    publish_s: list[float] = []
    again_s: list[float] = []
    client_s: list[float] = []
    start_s: dict[str, list[float]] = {"cargobay": [], "client_only": []}
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        tree = tmp / "tree"
        paths = make_tree(tree, args.files, args.size)
        with cargobay(tmp, args.workers) as (server, token, generic):
            env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGOBAY_", "CI_"))}
            env.update(
                CARGOBAY_URL=server.base_url,
                CARGOBAY_TOKEN=token,
                CARGOBAY_PROJECT="root/bench",
                XDG_CONFIG_HOME=str(tmp / "no-config"),
            )
            progress(
                f"publish {args.files} files of {args.size} bytes, {args.runs} runs: "
                f"curl loop, cargobay publish --jobs {args.jobs}, re-publish unchanged"
            )
            for i in range(args.runs):
                os.sync()
                curl_s.append(curl_loop(tree, paths, token, f"{generic}/tree/curl-{i}"))
                os.sync()
                seconds, summary = publish(tree, env, f"cli-{i}", args.jobs)
                if len(summary["uploaded"]) != args.files or summary["failed"]:
                    raise RuntimeError(f"publish did not upload the tree: {summary}")
                publish_s.append(seconds)
                seconds, summary = publish(tree, env, f"cli-{i}", args.jobs)
                if summary["uploaded"] or len(summary["skipped"]) != args.files:
                    raise RuntimeError(f"the re-publish sent files: {summary}")
                again_s.append(seconds)
                os.sync()
                seconds, summary = publish(tree, env, f"client-{i}", args.jobs, CLIENT_ONLY)
                if len(summary["uploaded"]) != args.files or summary["failed"]:
                    raise RuntimeError(f"publish did not upload the tree: {summary}")
                client_s.append(seconds)
                start_s["cargobay"].append(startup(CARGOBAY))
                start_s["client_only"].append(startup(CLIENT_ONLY))
                for version in (f"curl-{i}", f"cli-{i}", f"client-{i}"):
                    if sorted(stored(server.api, token, version)) != sorted(paths):
                        raise RuntimeError(f"tree/{version} does not hold exactly the tree")
    results = {
        "files": args.files,
        "size": args.size,
        "jobs": args.jobs,
        "server_workers": args.workers or os.cpu_count(),
        "runs": args.runs,
        "curl_loop": {
            "seconds": stats(curl_s),
            "files_s": stats([args.files / s for s in curl_s]),
        },
        "cargobay_publish": {
            "seconds": stats(publish_s),
            "files_s": stats([args.files / s for s in publish_s]),
        },
        "ratio_vs_curl_loop": round(statistics.median(curl_s) / statistics.median(publish_s), 2),
        "republish_unchanged": {"seconds": stats(again_s), "uploaded": 0},
        "client_only_publish": {
            "seconds": stats(client_s),
            "files_s": stats([args.files / s for s in client_s]),
            "ratio_vs_curl_loop": round(statistics.median(curl_s) / statistics.median(client_s), 2),
        },
        "startup_seconds": {k: stats(v) for k, v in start_s.items()},
        "cpu_probe_ms": [probe_start, cpu_probe()],
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
