"""Who is calling: ``Principal`` lives in domain/principal.py (the pure rules take it);
auth/ resolves it from a request's credentials (auth/authenticate.py)."""

from cargobay.domain.principal import ANONYMOUS, Principal

__all__ = ["ANONYMOUS", "Principal"]
