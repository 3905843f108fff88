"""The client's configuration precedence and its import hygiene (docs/cli.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cargobay.client.config import ConfigError, resolve, token_header
from cargobay.client.fetch import unsafe
from cargobay.client.publish import name_problem

SERVER_STACK = ("sqlalchemy", "granian", "boto3", "botocore", "starlette", "alembic", "asyncpg")


@pytest.mark.parametrize("argv", [["publish", "--help"], ["login", "--help"]])
def test_the_cargobay_script_runs_a_client_command_without_the_server(argv: list[str]) -> None:
    code = (
        "import sys, json, atexit; from cargobay.cli.entry import main;"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr));"
        f"sys.argv = ['cargobay', *{argv!r}]; main()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("Usage: cargobay "), out
    loaded = json.loads(out.stderr.strip().splitlines()[-1])
    assert [m for m in loaded if m.split(".")[0] in SERVER_STACK] == []


def test_the_cargobay_script_lists_every_command() -> None:
    code = (
        "import sys; from cargobay.cli.entry import main; sys.argv = ['cargobay', '--help']; main()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out
    for name in ("serve", "admin", "gc", "publish", "fetch", "login", "logout"):
        assert f"  {name} " in out.stdout, name


def test_the_client_imports_no_server_stack() -> None:
    code = (
        "import sys, json, cargobay.client.cli, cargobay.domain.versions;"
        "print(json.dumps(sorted(m for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.split(".")[0] in SERVER_STACK] == []
    assert [
        m
        for m in loaded
        if m.startswith("cargobay.") and not m.startswith(("cargobay.client", "cargobay.domain"))
    ] == []


@pytest.mark.parametrize(
    ("token", "header"),
    [
        ("glpat-abc", "PRIVATE-TOKEN"),
        ("gldt-abc", "DEPLOY-TOKEN"),
        ("glcbt-abc", "JOB-TOKEN"),
        ("whatever", "PRIVATE-TOKEN"),
    ],
)
def test_header_by_token_prefix(token: str, header: str) -> None:
    assert token_header(token) == header


def test_flags_beat_env_beat_gitlab_ci() -> None:
    ci = {
        "CI_API_V4_URL": "https://gitlab.example/api/v4",
        "CI_JOB_TOKEN": "job",
        "CI_PROJECT_ID": "7",
    }
    cfg = resolve(url=None, token=None, project=None, gitlab_only=False, env=ci)
    assert (cfg.url, cfg.header, cfg.token, cfg.project) == (
        "https://gitlab.example",
        "JOB-TOKEN",
        "job",
        "7",
    )
    env = {**ci, "CARGOBAY_URL": "http://cb:8080/", "CARGOBAY_TOKEN": "gldt-x"}
    env["CARGOBAY_PROJECT"] = "group/sub/proj"
    cfg = resolve(url=None, token=None, project=None, gitlab_only=False, env=env)
    assert (cfg.url, cfg.header, cfg.project_ref) == (
        "http://cb:8080",
        "DEPLOY-TOKEN",
        "group%2Fsub%2Fproj",
    )
    cfg = resolve(url="http://flag", token="glpat-f", project="9", gitlab_only=False, env=env)
    assert (cfg.url, cfg.header, cfg.token, cfg.project) == (
        "http://flag",
        "PRIVATE-TOKEN",
        "glpat-f",
        "9",
    )
    job = resolve(
        url=None,
        token=None,
        project=None,
        gitlab_only=False,
        env={**ci, "CARGOBAY_JOB_TOKEN": "mine"},
    )
    assert (job.header, job.token) == ("JOB-TOKEN", "mine")
    assert resolve(
        url=None,
        token=None,
        project=None,
        gitlab_only=False,
        env={**env, "CARGOBAY_GITLAB_ONLY": "1"},
    ).gitlab_only


def test_missing_url_or_project_is_a_usage_error() -> None:
    with pytest.raises(ConfigError) as no_url:
        resolve(url=None, token=None, project="1", gitlab_only=False, env={})
    assert no_url.value.code == 2
    with pytest.raises(ConfigError):
        resolve(url="http://x", token=None, project=None, gitlab_only=False, env={})


@pytest.mark.parametrize(
    "path", ["a b.txt", "~x", "x@", "dir/../f", "dir//f", "d\\x/f", "é.txt", "./f"]
)
def test_invalid_names(path: str) -> None:
    assert name_problem(path) is not None


@pytest.mark.parametrize("path", ["c++.txt", "a/b/c.tar.gz", "x~y", "d.d/.hidden"])
def test_valid_names(path: str) -> None:
    assert name_problem(path) is None


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a\\b", "a\0b", "C:x", "a/../b", "a//b"])
def test_fetch_refuses_names_that_leave_the_directory(name: str) -> None:
    assert unsafe(name)
    assert not unsafe("a/b/c.txt")
