"""``cargobay publish|fetch|ls|rm`` run as a user runs them, against a real server."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.client.conftest import Recorder, cargobay, client_env
from tests.e2e.server import BIN, Server


def make_tree(root: Path, count: int = 120) -> dict[str, bytes]:
    """``count`` files: nested directories, an empty file, ``c++.txt``, a few over 10 KiB
    (checksum-deploy's threshold)."""
    files: dict[str, bytes] = {"empty.txt": b"", "c++.txt": b"c plus plus\n"}
    for i in range(count - len(files)):
        depth = i % 4
        parts = [f"d{j}" for j in range(depth)] + [f"f{i}.bin"]
        size = 20_000 if i % 25 == 0 else 100 + i
        files["/".join(parts)] = os.urandom(size)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def tree_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def package_files(srv: Server, name: str, version: str) -> list[dict[str, object]]:
    headers = {"PRIVATE-TOKEN": srv.token}
    project = f"{srv.api}/projects/root%2Fdemo"
    packages = httpx.get(
        f"{project}/packages",
        params={"package_name": name, "package_version": version},
        headers=headers,
    ).json()
    (package,) = [p for p in packages if p["name"] == name]
    out: list[dict[str, object]] = []
    page = 1
    while True:
        answer = httpx.get(
            f"{project}/packages/{package['id']}/package_files",
            params={"per_page": 100, "page": page},
            headers=headers,
        )
        out += answer.json()
        if not answer.headers.get("X-Next-Page"):
            return out
        page += 1


@pytest.mark.backends("sqlite-local")
def test_publish_fetch_update_ls_rm_a_tree(demo: Server, tmp_path: Path) -> None:
    env = client_env(demo)
    src = tmp_path / "src"
    files = make_tree(src)
    assert len(files) == 120

    run = cargobay(env, "publish", str(src), "--name", "tree", "--version", "1.0.0", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert len(summary["uploaded"]) == 120 and summary["failed"] == []
    assert summary["bytes"] == sum(len(d) for d in files.values())
    assert len(package_files(demo, "tree", "1.0.0")) == 120

    copy = tmp_path / "copy"
    run = cargobay(env, "fetch", "--name", "tree", "--version", "1.0.0", "-o", str(copy))
    assert run.code == 0, run.err
    assert tree_of(copy) == files

    # A re-run sends nothing; two changed files send exactly those two.
    again = json.loads(
        cargobay(env, "publish", str(src), "--name", "tree", "--version", "1.0.0", "--json").out
    )
    assert again["uploaded"] == [] and len(again["skipped"]) == 120
    assert (src / "d0/d1/f6.bin").is_file()
    (src / "c++.txt").write_bytes(b"changed\n")
    (src / "d0/d1/f6.bin").write_bytes(b"also changed")
    files = tree_of(src)
    run = cargobay(env, "publish", str(src), "--name", "tree", "--version", "1.0.0", "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["uploaded"] == ["c++.txt", "d0/d1/f6.bin"]
    assert len(package_files(demo, "tree", "1.0.0")) == 122

    run = cargobay(
        env, "fetch", "--name", "tree", "--version", "~latest", "-o", str(copy), "--json"
    )
    assert run.code == 0, run.err
    assert sorted(json.loads(run.out)["downloaded"]) == ["c++.txt", "d0/d1/f6.bin"]
    assert tree_of(copy) == files

    run = cargobay(env, "ls")
    assert run.code == 0 and "tree  1.0.0" in run.out
    listed = json.loads(cargobay(env, "ls", "--name", "tree", "--version", "1.0.0", "--json").out)
    assert sorted(r["path"] for r in listed) == sorted(files) and len(listed) == 120

    assert cargobay(env, "rm", "--name", "tree", "--version", "1.0.0").code == 2  # no TTY
    run = cargobay(env, "rm", "--name", "tree", "--version", "1.0.0", "--yes")
    assert run.code == 0, run.err
    assert json.loads(cargobay(env, "ls", "--json").out) == []


@pytest.mark.backends("sqlite-local")
def test_gitlab_only_mode_uses_no_extension(
    demo: Server, recorder: Recorder, tmp_path: Path
) -> None:
    env = {**client_env(demo, url=recorder.url), "CARGOBAY_GITLAB_ONLY": "1"}
    src = tmp_path / "src"
    files = make_tree(src, 40)
    run = cargobay(env, "publish", str(src), "--name", "gl", "--version", "2.0.0", "--json")
    assert run.code == 0, run.err
    assert len(json.loads(run.out)["uploaded"]) == 40
    cargobay(env, "publish", str(src), "--name", "gl", "--version", "1.0.0", "--json")
    copy = tmp_path / "copy"
    run = cargobay(env, "fetch", "--name", "gl", "--version", "~latest", "-o", str(copy))
    assert run.code == 0, run.err
    assert "~latest is 2.0.0" in run.out
    assert tree_of(copy) == files
    run = cargobay(env, "rm", "--name", "gl", "--version", "1.0.0", "c++.txt", "--yes")
    assert run.code == 0, run.err
    run = cargobay(env, "rm", "--name", "gl", "--version", "2.0.0", "--yes")
    assert run.code == 0, run.err

    sent = recorder.requests
    assert any(m == "PUT" for m, _, _ in sent)
    assert [p for _, p, _ in sent if "~" in p] == []
    assert [h for _, _, h in sent if any(k.lower() == "x-checksum-deploy" for k in h)] == []
    deletes = [p for m, p, _ in sent if m == "DELETE"]
    assert deletes and all("/generic/" not in p for p in deletes)
    gone = httpx.get(
        f"{demo.api}/projects/root%2Fdemo/packages/generic/gl/2.0.0/c++.txt",
        headers={"PRIVATE-TOKEN": demo.token},
    )
    assert gone.status_code == 404


@pytest.mark.backends("sqlite-local")
def test_errors_are_one_line(demo: Server, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    env = {**client_env(demo), "CARGOBAY_TOKEN": "glpat-wrong"}
    run = cargobay(env, "publish", str(tmp_path / "f.txt"), "--name", "p", "--version", "1")
    assert run.code == 1
    assert run.err.strip() == "Error: 401 Unauthorized: check the token"
    assert "Traceback" not in run.err + run.out

    env = client_env(demo)
    run = cargobay(env, "fetch", "--name", "p", "--version", "9.9", "-o", str(tmp_path / "o"))
    assert run.code == 1 and "Traceback" not in run.err
    assert run.err.strip() == "Error: 404 Not Found: no version 9.9 of package p"

    run = cargobay({**env, "CARGOBAY_URL": "http://127.0.0.1:9"}, "ls")
    assert run.code == 1 and len(run.err.strip().splitlines()) == 1
    assert "Traceback" not in run.err

    bad = tmp_path / "bad"
    (bad / "sub").mkdir(parents=True)
    (bad / "a b.txt").write_text("x")
    (bad / "sub" / "~x").write_text("x")
    run = cargobay(env, "publish", str(bad), "--name", "p", "--version", "1")
    assert run.code == 2
    assert "a b.txt" in run.err and "sub/~x" in run.err


@pytest.mark.backends("sqlite-local")
def test_progress_bars_on_a_terminal(demo: Server, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, 10)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "cargobay"), "publish", str(src), "--name", "tty", "--version", "1"],
        env={**client_env(demo), "TERM": "xterm", "COLUMNS": "120"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "━" in text and "total" in text  # rich's bar and its total task
    assert "\x1b[" in text  # drawn with terminal control sequences
