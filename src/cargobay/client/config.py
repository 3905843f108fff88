"""Where to publish and with what credential: flag > CARGOBAY_* > GitLab CI variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


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


def resolve(
    *,
    url: str | None,
    token: str | None,
    project: str | None,
    gitlab_only: bool,
    env: Mapping[str, str] | None = None,
    need_project: bool = True,
) -> Config:
    """The configuration from flags (None: not given), then ``env``."""
    env = os.environ if env is None else env
    base = url or env.get("CARGOBAY_URL") or ""
    if not base and env.get("CI_API_V4_URL"):
        base = env["CI_API_V4_URL"].rstrip("/").removesuffix("/api/v4")
    if not base:
        base = env.get("CI_SERVER_URL", "")
    if not base:
        raise ConfigError("no server URL: pass --url or set CARGOBAY_URL")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"the URL must start with http:// or https://: {base}")
    base = base.rstrip("/").removesuffix("/api/v4")

    header, secret = "", ""
    if token:
        header, secret = token_header(token), token
    elif env.get("CARGOBAY_TOKEN"):
        secret = env["CARGOBAY_TOKEN"]
        header = token_header(secret)
    elif env.get("CARGOBAY_JOB_TOKEN"):
        header, secret = "JOB-TOKEN", env["CARGOBAY_JOB_TOKEN"]
    elif env.get("CI_JOB_TOKEN"):
        header, secret = "JOB-TOKEN", env["CI_JOB_TOKEN"]

    proj = project or env.get("CARGOBAY_PROJECT") or env.get("CI_PROJECT_ID") or ""
    if need_project and not proj:
        raise ConfigError("no project: pass --project or set CARGOBAY_PROJECT")
    only = gitlab_only or env.get("CARGOBAY_GITLAB_ONLY", "") in ("1", "true", "yes")
    return Config(base, header, secret, proj, only)
