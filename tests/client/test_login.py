"""``login``/``logout`` and the profile file (docs/cli.md): checked before saving, mode
0600, used by every command below flags and CARGOBAY_* and above GitLab CI's variables,
and its token sent only to its own server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.client.conftest import Recorder, Run, cargobay
from tests.e2e.server import Server


def client(env: dict[str, str], *args: str, stdin: str = "") -> Run:
    """``python -m cargobay.client``: the client's commands, login and logout among them."""
    result = subprocess.run(
        [sys.executable, "-m", "cargobay.client", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def bare_env(tmp: Path) -> dict[str, str]:
    """No CARGOBAY_* and no CI_* variable; a configuration directory of this test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGOBAY_", "CI_"))}
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    return env


@pytest.mark.backends("sqlite-local")
def test_login_saves_a_checked_profile_that_every_command_uses(
    demo: Server, recorder: Recorder, tmp_path: Path
) -> None:
    env = bare_env(tmp_path)
    config = tmp_path / "xdg" / "cargobay" / "config.toml"

    run = client(env, "login", demo.base_url, "--token-stdin", stdin="glpat-wrong\n")
    assert (run.code, run.err.strip()) == (1, "Error: 401 Unauthorized: check the token")
    assert not config.exists()
    run = client(env, "login", demo.base_url)  # no terminal, no --token-stdin
    assert run.code == 2 and "--token-stdin" in run.err and not config.exists()

    run = client(
        env,
        "login",
        "--url",
        f"{demo.base_url}/api/v4/",
        "--project",
        "root/demo",
        "--token-stdin",
        stdin=f"{demo.token}\n",
    )
    assert run.code == 0, run.err
    assert "as root" in run.out and demo.token not in run.out + run.err
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    saved = tomllib.loads(config.read_text())
    assert saved == {
        "remote": {"default": {"url": demo.base_url, "token": demo.token, "project": "root/demo"}}
    }

    # Every command now needs nothing else; a GitLab CI job's variables come after it.
    (tmp_path / "f.txt").write_text("hello\n")
    ci = {
        **env,
        "CI_API_V4_URL": "http://127.0.0.1:9/api/v4",
        "CI_JOB_TOKEN": "job",
        "CI_PROJECT_ID": "999",
    }
    run = cargobay(ci, "publish", str(tmp_path / "f.txt"), "--name", "p", "--version", "1")
    assert run.code == 0, run.err
    run = cargobay(env, "ls")
    assert run.code == 0 and "p  1" in run.out, run.err
    # CARGOBAY_TOKEN comes before the profile, and the flag before both.
    run = cargobay({**env, "CARGOBAY_TOKEN": "glpat-wrong"}, "ls")
    assert (run.code, run.err.strip()) == (1, "Error: 401 Unauthorized: check the token")
    run = cargobay({**env, "CARGOBAY_TOKEN": "glpat-wrong"}, "ls", "--token", demo.token)
    assert run.code == 0, run.err

    # Another server than the profile's never gets the profile's token.
    run = cargobay(env, "ls", "--url", recorder.url, "--project", "root/demo")
    assert run.code == 1 and "404" in run.err
    sent = [h for _, _, h in recorder.requests]
    assert sent and not any(demo.token in v for h in sent for v in h.values())
    run = cargobay(env, "ls", "--url", recorder.url, "--remote", "default")
    assert run.code == 2 and "is for" in run.err

    # A token in a file others may read is refused, not used.
    config.chmod(0o644)
    run = cargobay(env, "ls")
    assert run.code == 2 and f"chmod 600 {config}" in run.err
    config.chmod(0o600)

    run = client(env, "logout")
    assert run.code == 0 and "Removed profile 'default'" in run.out
    assert not config.exists()
    run = cargobay(env, "ls")
    assert run.code == 2 and "no server URL" in run.err
    run = client(env, "logout")
    assert run.code == 0 and "nothing to remove" in run.out


@pytest.mark.backends("sqlite-local")
def test_named_profiles_and_token_command(demo: Server, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    config = tmp_path / "xdg" / "cargobay" / "config.toml"
    run = client(env, "login", demo.base_url, "--remote", "work", "--token-stdin", stdin=demo.token)
    assert run.code == 0, run.err
    run = cargobay(env, "ls", "--project", "root/demo")  # no "default" profile
    assert run.code == 2 and "no server URL" in run.err
    run = cargobay(env, "ls", "--project", "root/demo", "--remote", "work")
    assert run.code == 0, run.err
    run = cargobay({**env, "CARGOBAY_REMOTE": "work", "CARGOBAY_PROJECT": "root/demo"}, "ls")
    assert run.code == 0, run.err
    run = cargobay(env, "ls", "--project", "root/demo", "--remote", "nope")
    assert run.code == 2 and "no profile 'nope'" in run.err

    # A profile without the token in it: token_command prints it, so the file may be 0644.
    secret = tmp_path / "secret"
    secret.write_text(f"{demo.token}\n")
    config.write_text(
        "[remote.default]\n"
        f'url = "{demo.base_url}"\n'
        'project = "root/demo"\n'
        f'token_command = "cat {secret}"\n'
    )
    config.chmod(0o644)
    run = cargobay(env, "ls")
    assert run.code == 0, run.err
    # Logging in again keeps the other profile.
    run = client(env, "login", demo.base_url, "--remote", "work", "--token-stdin", stdin=demo.token)
    assert run.code == 0, run.err
    saved = tomllib.loads(config.read_text())
    assert sorted(saved["remote"]) == ["default", "work"]
    assert saved["remote"]["default"]["token_command"] == f"cat {secret}"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    run = client(env, "logout", "--remote", "work")
    assert run.code == 0 and sorted(tomllib.loads(config.read_text())["remote"]) == ["default"]


def test_the_profile_writer_round_trips_through_tomllib() -> None:
    from cargobay.client.config import dumps

    data = {
        "top": "x",
        "remote": {
            "a-b_c": {"url": 'http://h/"q"\\', "token": "t\n\t\x01\x7fé", "gitlab_only": True},
            "second": {"n": 3, "l": ["x", "y"]},
        },
    }
    assert tomllib.loads(dumps(data)) == data
