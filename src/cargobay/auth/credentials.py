"""Every place a GitLab client may put a token, read from one request (spec §5.1)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Credentials:
    # PRIVATE-TOKEN header, ?private_token=, or PROJECT-TOKEN: GitLab reads no such header,
    # but its docs (17.x) show `curl --header "PROJECT-TOKEN: <project_access_token>"`.
    private_token: str | None = None
    job_token: str | None = None  # JOB-TOKEN header, ?job_token= or ?token=
    deploy_token: str | None = None  # DEPLOY-TOKEN header
    bearer: str | None = None  # Authorization: Bearer
    basic_user: str | None = None  # Authorization: Basic (username is mostly ignored)
    basic_password: str | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.private_token
            or self.job_token
            or self.deploy_token
            or self.bearer
            or self.basic_password
        )


def read_credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> Credentials:
    bearer = basic_user = basic_password = None
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        bearer = value.strip()
    elif scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, sep, password = decoded.partition(":")
        if sep and password:
            basic_user, basic_password = user, password
    return Credentials(
        private_token=(
            headers.get("private-token")
            or query.get("private_token")
            or headers.get("project-token")
            or None
        ),
        job_token=(
            headers.get("job-token") or query.get("job_token") or query.get("token") or None
        ),
        deploy_token=headers.get("deploy-token") or None,
        bearer=bearer,
        basic_user=basic_user,
        basic_password=basic_password,
    )
