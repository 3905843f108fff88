"""Token minting and digests. Tokens are shown once and stored only as a sha256 digest.

Prefixes follow GitLab's (glpat-, gldt-, glcbt-) so secret scanners recognise them and a
lookup knows which table to search.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum


class TokenKind(StrEnum):
    personal = "glpat-"
    deploy = "gldt-"
    job = "glcbt-"


def mint(kind: TokenKind) -> str:
    return kind.value + secrets.token_urlsafe(24)  # 192 random bits


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def kind_of(token: str) -> TokenKind | None:
    for kind in TokenKind:
        if token.startswith(kind.value):
            return kind
    return None
