"""The ``cargobay`` command as an operator runs it: real processes of the installed
binary, in a working directory of the test's own (issue 20). ``--data-dir`` names the
data, a directory without a database is an error that names it, the list commands show
the ids other commands take, and every bad input is one ``Error:`` line and a non-zero
exit, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_support import CARGOBAY
from tests.e2e.server import free_port


def cargobay(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    return subprocess.run(
        [CARGOBAY, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(cwd: Path, *args: str) -> str:
    result = cargobay(cwd, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with a database, root and a project root/demo."""
    where = tmp_path / "registry"
    assert ok(tmp_path, "admin", "bootstrap", "--data-dir", str(where)).startswith("glpat-")
    ok(tmp_path, "admin", "create-project", "--data-dir", str(where), "root", "demo")
    return where


def test_a_directory_without_a_database_is_an_error_naming_it_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    for args in (
        ("admin", "create-project", "root", "demo"),
        ("admin", "list-users"),
        ("admin", "create-project", "--data-dir", "elsewhere", "root", "demo"),
        ("gc", "--data-dir", "elsewhere"),
        ("audit", "--data-dir", "elsewhere"),
        ("migrate", "database", "--data-dir", "elsewhere", "--to", "postgresql://x@h/db"),
    ):
        line = one_error_line(cargobay(tmp_path, *args))
        where = tmp_path / ("elsewhere" if "elsewhere" in args else "data")
        assert f"no Cargobay database in {where}" in line
        assert "--data-dir" in line
        assert cargobay(tmp_path, *args).returncode == 1
    assert list(tmp_path.iterdir()) == []


def test_data_dir_names_the_data_every_command_works_on(tmp_path: Path, data: Path) -> None:
    ok(tmp_path, "admin", "create-user", "--data-dir", str(data), "alice")
    users = json.loads(ok(tmp_path, "admin", "list-users", "--json", "--data-dir", str(data)))
    assert [u["username"] for u in users] == ["root", "alice"]
    assert "CARGOBAY_DATA_DIR=" + str(data) in ok(tmp_path, "settings", "--data-dir", str(data))
    assert ok(tmp_path, "db", "upgrade", "--data-dir", str(data)) == "database is up to date"
    ok(tmp_path, "gc", "--data-dir", str(data))
    # db upgrade creates a database where none is, as serve does
    fresh = tmp_path / "fresh"
    ok(tmp_path, "db", "upgrade", "--data-dir", str(fresh))
    assert (fresh / "cargobay.db").is_file()
    assert ok(tmp_path, "admin", "list-users", "--data-dir", str(fresh)).splitlines() == [
        "ID  USERNAME  NAME  STATE  ROLE"
    ]


def test_list_commands_show_ids_in_aligned_columns_and_as_json(tmp_path: Path, data: Path) -> None:
    d = ("--data-dir", str(data))
    ok(tmp_path, "admin", "create-group", *d, "eng", "--name", "Engineering")
    ok(tmp_path, "admin", "create-group", *d, "tools", "--parent", "eng")
    ok(tmp_path, "admin", "create-project", *d, "eng/tools", "cli")
    secret = ok(
        tmp_path, "admin", "create-token", *d, "root", "--name", "ci", "--expires", "2999-01-01"
    )
    project_secret = ok(tmp_path, "admin", "create-project-token", *d, "root/demo")

    groups = ok(tmp_path, "admin", "list-groups", *d).splitlines()
    assert groups[0].split() == ["ID", "PATH", "NAME", "VISIBILITY"]
    assert [line.split()[1] for line in groups[1:]] == ["eng", "eng/tools"]
    assert groups[0].index("PATH") == groups[1].index("eng") == groups[2].index("eng/tools")

    projects = json.loads(ok(tmp_path, "admin", "list-projects", *d, "--json"))
    assert [p["full_path"] for p in projects] == ["eng/tools/cli", "root/demo"]
    assert all(isinstance(p["id"], int) for p in projects)
    table = ok(tmp_path, "admin", "list-projects", *d)
    for p in projects:
        assert any(
            line.split()[:2] == [str(p["id"]), p["full_path"]] for line in table.splitlines()
        )

    tokens = json.loads(ok(tmp_path, "admin", "list-tokens", *d, "--json"))
    assert [(t["username"], t["name"]) for t in tokens][:2] == [
        ("root", "bootstrap"),
        ("root", "ci"),
    ]
    assert tokens[2]["username"].startswith("project_")
    assert tokens[1]["expires_at"] == "2999-01-01" and tokens[1]["state"] == "active"
    everything = ok(tmp_path, "admin", "list-tokens", *d) + json.dumps(tokens)
    assert secret not in everything and project_secret not in everything
    assert "glpat-" not in everything
    mine = json.loads(ok(tmp_path, "admin", "list-tokens", *d, "--user", "root", "--json"))
    assert [t["name"] for t in mine] == ["bootstrap", "ci"]

    # the id list-tokens prints is the one revoke-token takes
    ci_id = str(tokens[1]["id"])
    assert ok(tmp_path, "admin", "revoke-token", *d, ci_id) == f"token {ci_id} revoked"
    lines = ok(tmp_path, "admin", "list-tokens", *d, "--user", "root").splitlines()
    assert lines[0].split() == ["ID", "USER", "NAME", "SCOPES", "STATE", "EXPIRES"]
    assert lines[2].split() == [ci_id, "root", "ci", "api", "revoked", "2999-01-01"]


def test_each_bad_input_is_one_error_line_and_a_non_zero_exit(tmp_path: Path, data: Path) -> None:
    d = ("--data-dir", str(data))
    expect = {
        (
            "admin",
            "create-token",
            *d,
            "root",
            "--expires",
            "tomorrow",
        ): "--expires: 'tomorrow' is not a date",
        (
            "admin",
            "create-token",
            *d,
            "root",
            "--expires",
            "2020-01-01",
        ): "Expiration date must be in the future",
        (
            "admin",
            "create-project-token",
            *d,
            "root/demo",
            "--expires",
            "2020-01-01",
        ): "Expiration date must be in the future",
        (
            "admin",
            "add-member",
            *d,
            "root",
            "--project",
            "root/demo",
            "--role",
            "developer",
            "--expires",
            "soon",
        ): "--expires: 'soon' is not a date",
        (
            "admin",
            "create-deploy-token",
            *d,
            "--project",
            "root/demo",
            "--scope",
            "read_package_registry",
            "--expires",
            "x",
        ): "--expires: 'x' is not a date",
        ("audit", *d, "--since", "yesterday"): "--since: 'yesterday'",
        ("admin", "create-project", *d, "nobody", "demo"): "404 Namespace Not Found",
        ("admin", "create-project", *d, "root", "demo"): "has already been taken",
        ("admin", "list-tokens", *d, "--user", "nobody"): "404 User Not Found",
        ("admin", "revoke-token", *d, "999"): "404",
        ("admin", "finish-job", *d, "999"): "404 Job Not Found",
        ("admin", "create-user", *d, "bad/name"): "username",
        (
            "migrate",
            "database",
            *d,
            "--to",
            f"postgresql://u:p@127.0.0.1:{free_port()}/x",
        ): "cannot reach the database at --to",
        ("migrate", "database", *d, "--to", "mysql://h/db"): "--to: unsupported database URL",
    }
    for args, text in expect.items():
        result = cargobay(tmp_path, *args)
        assert text in one_error_line(result), (args, result.stderr)
        assert result.returncode == 1, args
    # click's usage errors keep their status 2
    assert cargobay(tmp_path, "admin", "revoke-token", *d, "abc").returncode == 2


def test_finish_job_says_what_it_did_and_answers_a_conflicting_second_finish_as_the_api(
    tmp_path: Path, data: Path
) -> None:
    d = ("--data-dir", str(data))
    job = json.loads(ok(tmp_path, "admin", "start-job", *d, "root/demo", "--user", "root"))
    jid = str(job["job_id"])
    assert ok(tmp_path, "admin", "finish-job", *d, jid) == (
        f"job {jid} finished: success; its token no longer works"
    )
    assert (
        ok(tmp_path, "admin", "finish-job", *d, jid) == f"job {jid} had already finished: success"
    )
    line = one_error_line(cargobay(tmp_path, "admin", "finish-job", *d, jid, "--status", "failed"))
    assert line == "Error: 409 Conflict - Job is already success"


def test_serve_prints_its_banner_only_once_the_port_accepts_and_its_commands_work(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    env["CARGOBAY_WORKERS"] = "1"
    data = tmp_path / "d"
    proc = subprocess.Popen(
        [CARGOBAY, "serve", "--port", str(port), "--data-dir", str(data)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        line = ""
        while time.monotonic() < deadline and "Cargobay listening" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "serve exited"
        assert "Cargobay listening" in line
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the port accepted before the banner appeared
        banner: list[str] = []
        while not banner or "admin set-password" not in banner[-1]:
            banner.append(proc.stdout.readline())
            assert banner[-1], "serve closed stdout before the end of its banner"
        command = next(b.strip() for b in banner if "admin create-project" in b)
        assert command == f"{CARGOBAY} admin create-project --data-dir {data} root demo"
        result = subprocess.run(
            command.split(), cwd="/", env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
