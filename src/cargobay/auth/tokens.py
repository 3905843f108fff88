"""Every kind of credential, token minting and digests. Tokens are shown once and stored
only as a sha256 digest.

``TokenKind`` is the one list of kinds: the prefix GitLab gives a token of that kind (so
secret scanners recognise it and a lookup knows which table to search; None: the kind
has no token of its own) and the name the audit log and ``Principal.token_kind`` record.
A new kind is a member here plus its resolver in auth/authenticate.py (see
docs/architecture.md).
"""

from __future__ import annotations

import enum
import hashlib
import secrets


class TokenKind(enum.Enum):
    # member = (prefix, audit name)
    personal = ("glpat-", "personal_access_token")
    project = ("glpat-", "project_access_token")  # a personal token of a project's bot
    deploy = ("gldt-", "deploy_token")
    job = ("glcbt-", "job_token")
    web_session = (None, "web_session")  # a signed-in browser (services/sign_in.py)
    anonymous = (None, "anonymous")
    cli = (None, "cli")  # local work: ``cargobay`` commands
    system = (None, "system")  # the scheduler

    def __init__(self, prefix: str | None, audit_name: str) -> None:
        self.prefix = prefix
        self.audit_name = audit_name


def mint(kind: TokenKind) -> str:
    assert kind.prefix is not None, f"{kind.name} has no token of its own"
    return kind.prefix + secrets.token_urlsafe(24)  # 192 random bits


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def kind_of(token: str) -> TokenKind | None:
    """The kind a token's prefix names (a ``glpat-`` token is looked up as personal: a
    project access token is one of a bot user)."""
    for kind in TokenKind:
        if kind.prefix is not None and token.startswith(kind.prefix):
            return kind
    return None
