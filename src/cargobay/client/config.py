"""Where to publish and with what credential: flag > CARGOBAY_* > profile file > GitLab CI
variables (shared/spec/beyond-gitlab.md §1.6)."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

DEFAULT_REMOTE = "default"
REMOTE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ClientError(Exception):
    """A failure reported as one line on stderr; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ConfigError(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code=2)


@dataclass(frozen=True)
class Config:
    url: str  # the server's base URL, without /api/v4
    header: str  # PRIVATE-TOKEN, DEPLOY-TOKEN or JOB-TOKEN ("" when anonymous)
    token: str
    project: str
    gitlab_only: bool = False

    @property
    def api(self) -> str:
        return f"{self.url}/api/v4"

    @property
    def project_ref(self) -> str:
        """The project id, or its full path URL-encoded (``group%2Fsub%2Fproj``)."""
        return quote(self.project, safe="")


def token_header(token: str) -> str:
    """The header GitLab reads a token from, by its prefix (auth/tokens.py mints these)."""
    if token.startswith("gldt-"):
        return "DEPLOY-TOKEN"
    if token.startswith("glcbt-"):
        return "JOB-TOKEN"
    return "PRIVATE-TOKEN"


def base_url(url: str) -> str:
    """``url`` checked and normalised: no trailing ``/`` or ``/api/v4``."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the URL must start with http:// or https://: {url}")
    return url.rstrip("/").removesuffix("/api/v4").rstrip("/")


# -- the profile file ----------------------------------------------------------------------


def config_path(env: Mapping[str, str]) -> Path | None:
    """``$XDG_CONFIG_HOME/cargobay/config.toml``, else ``$HOME/.config/...``; None when
    ``env`` names neither (a test's empty environment reads no file)."""
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "cargobay" / "config.toml"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".config" / "cargobay" / "config.toml"
    return None


def read_file(path: Path) -> dict[str, Any]:
    """The parsed file, {} when there is none; a broken file is a usage error."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    values: Mapping[str, Any]

    @property
    def url(self) -> str:
        url = self.values.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"profile {self.name!r} in {self.path} has no url")
        return base_url(url)

    def string(self, key: str) -> str:
        value = self.values.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f"{key} of profile {self.name!r} in {self.path} must be a string")
        return value

    def token(self) -> str:
        """``token`` (only from a file no one else may read), else ``token_command``'s
        output, else ""."""
        if self.values.get("token"):
            mode = self.path.stat().st_mode
            if mode & 0o077:
                raise ConfigError(
                    f"{self.path} holds a token but others may read it"
                    f" (mode {stat.S_IMODE(mode):04o}): chmod 600 {self.path}"
                )
            return self.string("token")
        command = self.string("token_command")
        if not command:
            return ""
        try:
            done = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"token_command of profile {self.name!r} failed: {exc}") from None
        if done.returncode != 0 or not done.stdout.strip():
            raise ConfigError(
                f"token_command of profile {self.name!r} exited {done.returncode}"
                " without printing a token"
            )
        return done.stdout.strip().splitlines()[0]


def load_profile(name: str | None, env: Mapping[str, str]) -> Profile | None:
    """The named profile (``--remote``, else ``CARGOBAY_REMOTE``, else ``default``). A
    profile asked for by name must exist; the default one may be missing."""
    chosen = name or env.get("CARGOBAY_REMOTE") or ""
    path = config_path(env)
    if path is None:
        if chosen:
            raise ConfigError(f"no profile {chosen!r}: no configuration file")
        return None
    remotes = read_file(path).get("remote", {})
    values = remotes.get(chosen or DEFAULT_REMOTE) if isinstance(remotes, dict) else None
    if not isinstance(values, dict):
        if chosen:
            raise ConfigError(f"no profile {chosen!r} in {path} (cargobay login --remote {chosen})")
        return None
    return Profile(chosen or DEFAULT_REMOTE, path, values)


def dumps(data: Mapping[str, Any]) -> str:
    """TOML for what ``login`` writes: tables of strings, booleans, integers and lists of
    them (no dependency for so little)."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            # JSON's escapes are TOML's; DEL is the one control character JSON leaves raw.
            return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        raise ConfigError(f"cannot write a {type(value).__name__} to the configuration file")

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else scalar(k)

    def table(prefix: str, values: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if prefix and (plain or not any(isinstance(v, dict) for v in values.values())):
            lines.extend(["", f"[{prefix}]"])
        lines.extend(f"{key(k)} = {scalar(v)}" for k, v in plain.items())
        for k, v in values.items():
            if isinstance(v, dict):
                table(f"{prefix}.{key(k)}" if prefix else key(k), v)

    table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"


def write_file(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the file atomically, mode 0600 from the start, its directory 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(data))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_profile(env: Mapping[str, str], name: str, values: Mapping[str, Any]) -> Path:
    """Write (or replace) ``[remote.NAME]``, keeping the rest of the file."""
    if not REMOTE_NAME.fullmatch(name):
        raise ConfigError(f"a profile name may have only A-Z a-z 0-9 _ -: {name!r}")
    path = config_path(env)
    if path is None:
        raise ConfigError("no configuration directory: set HOME or XDG_CONFIG_HOME")
    data = read_file(path)
    remotes = data.setdefault("remote", {})
    if not isinstance(remotes, dict):
        raise ConfigError(f"{path}: remote must be a table")
    remotes[name] = dict(values)
    write_file(path, data)
    return path


def remove_profile(env: Mapping[str, str], name: str) -> Path | None:
    """Remove ``[remote.NAME]``; the file goes when nothing is left. The path, or None
    when there was no such profile."""
    path = config_path(env)
    if path is None:
        return None
    data = read_file(path)
    remotes = data.get("remote")
    if not isinstance(remotes, dict) or name not in remotes:
        return None
    del remotes[name]
    if not remotes:
        del data["remote"]
    if data:
        write_file(path, data)
    else:
        path.unlink()
    return path


# -- resolution ------------------------------------------------------------------------------


def resolve(
    *,
    url: str | None,
    token: str | None,
    project: str | None,
    gitlab_only: bool,
    env: Mapping[str, str] | None = None,
    need_project: bool = True,
    remote: str | None = None,
) -> Config:
    """The configuration from flags (None: not given), then ``env``, then the profile,
    then GitLab CI's variables. The profile's token and project are used only for the
    profile's own server: a token never goes to a server it was not saved for."""
    env = os.environ if env is None else env
    profile = load_profile(remote, env)
    base = url or env.get("CARGOBAY_URL") or ""
    if not base and profile is not None:
        base = profile.url
    if not base and env.get("CI_API_V4_URL"):
        base = env["CI_API_V4_URL"].rstrip("/").removesuffix("/api/v4")
    if not base:
        base = env.get("CI_SERVER_URL", "")
    if not base:
        raise ConfigError("no server URL: pass --url, set CARGOBAY_URL or run cargobay login")
    base = base_url(base)
    if profile is not None and profile.url != base:
        if remote:
            raise ConfigError(f"profile {profile.name!r} is for {profile.url}, not {base}")
        profile = None

    header, secret = "", ""
    if token:
        header, secret = token_header(token), token
    elif env.get("CARGOBAY_TOKEN"):
        secret = env["CARGOBAY_TOKEN"]
        header = token_header(secret)
    elif env.get("CARGOBAY_JOB_TOKEN"):
        header, secret = "JOB-TOKEN", env["CARGOBAY_JOB_TOKEN"]
    elif profile is not None and (saved := profile.token()):
        header, secret = token_header(saved), saved
    elif env.get("CI_JOB_TOKEN"):
        header, secret = "JOB-TOKEN", env["CI_JOB_TOKEN"]

    proj = project or env.get("CARGOBAY_PROJECT") or ""
    if not proj and profile is not None:
        proj = profile.string("project")
    proj = proj or env.get("CI_PROJECT_ID") or ""
    if need_project and not proj:
        raise ConfigError("no project: pass --project or set CARGOBAY_PROJECT")
    only = gitlab_only or env.get("CARGOBAY_GITLAB_ONLY", "") in ("1", "true", "yes")
    if profile is not None and profile.values.get("gitlab_only") is True:
        only = True
    return Config(base, header, secret, proj, only)
