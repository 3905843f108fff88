"""Who is calling: the resolved identity behind a request's credentials (spec §5). A plain
record, so the pure rules of domain/ can take it; auth/ resolves it from credentials."""

from __future__ import annotations

from dataclasses import dataclass, field

from cargobay.domain.models import DeployToken, Job, User


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. ``user`` is set for personal/project access tokens and for job tokens
    (the user who runs the job); a deploy token has no user."""

    user: User | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    deploy_token: DeployToken | None = None
    job: Job | None = None
    token_kind: str = "anonymous"  # the kind's audit name (auth.tokens.TokenKind)

    @property
    def anonymous(self) -> bool:
        return self.user is None and self.deploy_token is None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin and self.job is None


ANONYMOUS = Principal()
