"""Credentials to Principal, with GitLab's failure rules (spec §5.1, §5.2).

Sources are tried in GitLab's order: deploy token, access token, job token. What an
unknown token means depends on where it came from:
- ``PRIVATE-TOKEN``, ``?private_token``, ``Bearer``, ``JOB-TOKEN``: 401.
- ``DEPLOY-TOKEN`` and the Basic password: ignored (the request goes on as anonymous), so
  a public download with random Basic credentials still works.
A known token that is expired, revoked or whose job has finished is always refused.
"""

from __future__ import annotations

from datetime import datetime

from cargobay.auth.credentials import Credentials
from cargobay.auth.principal import ANONYMOUS, Principal
from cargobay.auth.tokens import TokenKind, digest, kind_of
from cargobay.domain.models import TokenGrant, User
from cargobay.errors import Forbidden, Unauthorized, forbidden, message
from cargobay.storage.db import ci as ci_sql
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db.database import Connection

BASIC_REALM = 'Basic realm="GitLab Packages Registry"'
READ_METHODS = frozenset({"GET", "HEAD"})


def unauthorized(*, generic: bool) -> Unauthorized:
    headers = {"WWW-Authenticate": BASIC_REALM} if generic else {}
    return Unauthorized(message(401), headers)


def invalid_token(description: str) -> Unauthorized:
    return Unauthorized(
        {"error": "invalid_token", "error_description": description},
        {
            "WWW-Authenticate": f'Bearer realm="Cargobay", error="invalid_token", '
            f'error_description="{description}"'
        },
    )


def insufficient_scope() -> Forbidden:
    return Forbidden(
        {
            "error": "insufficient_scope",
            "error_description": (
                "The request requires higher privileges than provided by the access token."
            ),
            "scope": "api read_api",
        },
        {"WWW-Authenticate": 'Bearer realm="Cargobay", error="insufficient_scope"'},
    )


async def authenticate(
    conn: Connection,
    creds: Credentials,
    *,
    generic: bool,
    method: str,
    now: datetime,
) -> Principal:
    """``generic``: the route is a generic-package route, which also takes deploy tokens,
    ``DEPLOY-TOKEN`` and HTTP Basic (spec §5.1 route settings)."""
    for token, strict, source_kind in _candidates(creds, generic=generic):
        kind = source_kind or kind_of(token) or TokenKind.personal
        if kind is TokenKind.deploy and not generic:
            kind = TokenKind.personal  # deploy tokens are not accepted on the Packages API
        principal = await _resolve(conn, token, kind, method=method, now=now, generic=generic)
        if principal is not None:
            return principal
        if strict:
            raise unauthorized(generic=generic)
    return ANONYMOUS


def _candidates(creds: Credentials, *, generic: bool) -> list[tuple[str, bool, TokenKind | None]]:
    """(token, strict, source kind) in GitLab's order; strict sources answer 401 for an
    unknown token."""
    candidates: list[tuple[str, bool, TokenKind | None]] = []
    if generic and creds.deploy_token:
        candidates.append((creds.deploy_token, False, TokenKind.deploy))
    if creds.private_token:
        candidates.append((creds.private_token, True, TokenKind.personal))
    if creds.job_token:
        candidates.append((creds.job_token, True, TokenKind.job))
    if creds.bearer:
        candidates.append((creds.bearer, True, None))
    if generic and creds.basic_password:
        basic_kind = TokenKind.job if creds.basic_user == "gitlab-ci-token" else None
        candidates.append((creds.basic_password, basic_kind is TokenKind.job, basic_kind))
    return candidates


def sole_access_token(creds: Credentials) -> str | None:
    """The token, when a generic-package request carries exactly one and ``authenticate``
    would look it up as a personal, project or group access token."""
    candidates = _candidates(creds, generic=True)
    if len(candidates) != 1:
        return None
    token, _strict, source_kind = candidates[0]
    return (
        token
        if (source_kind or kind_of(token) or TokenKind.personal) is TokenKind.personal
        else None
    )


async def _resolve(
    conn: Connection,
    token: str,
    kind: TokenKind,
    *,
    method: str,
    now: datetime,
    generic: bool,
) -> Principal | None:
    token_digest = digest(token)
    if kind is TokenKind.deploy:
        deploy_token = await token_sql.find_deploy_token(conn, token_digest, now)
        if deploy_token is None:
            return None
        return Principal(deploy_token=deploy_token, token_kind=TokenKind.deploy.audit_name)

    if kind is TokenKind.job:
        found = await ci_sql.find_job(conn, token_digest)
        if found is None:
            return None
        job, status, user = found
        if status != "running":
            raise unauthorized(generic=generic)
        if user is not None:
            _require_active(user)
        return Principal(
            user=user, job=job, token_kind=TokenKind.job.audit_name, scopes=frozenset({"api"})
        )

    grant = await token_sql.find_personal_access_token(conn, token_digest)
    if grant is None:
        return None
    return access_token_principal(grant, method=method, now=now)


def access_token_principal(grant: TokenGrant, *, method: str, now: datetime) -> Principal:
    """The caller behind a personal, project or group access token, or the error GitLab
    answers for it."""
    user, expires_at = grant.user, grant.expires_at
    if grant.revoked:
        raise invalid_token("Token was revoked. You have to re-authorize from the user.")
    if expires_at is not None and expires_at <= now.date():
        raise invalid_token(
            "Token is expired. You can either do re-authorization or token refresh."
        )
    granted = frozenset(grant.scopes.split())
    if "api" not in granted and not ("read_api" in granted and method in READ_METHODS):
        raise insufficient_scope()
    _require_active(user)
    return Principal(
        user=user,
        scopes=granted,
        token_kind=(TokenKind.project if user.bot else TokenKind.personal).audit_name,
    )


def _require_active(user: User) -> None:
    if user.state == "blocked":
        raise forbidden("Your account has been blocked.")
    if not user.active:
        raise forbidden("Your account has been deactivated by your administrator.")
