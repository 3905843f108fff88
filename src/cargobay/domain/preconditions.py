"""Conditional requests on a generic file (RFC 9110 §13), Cargobay's own: GitLab ignores
``If-Match`` and ``If-None-Match`` on PUT and has no DELETE on the generic URL
(docs/extensions.md). A file's entity tag is its sha256, as downloads send it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cargobay.errors import PreconditionFailed, message


@dataclass(frozen=True, slots=True)
class Preconditions:
    if_match: frozenset[str] | None = None  # entity tags as sent (lower case); "*": any
    if_none_match: frozenset[str] | None = None

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> Preconditions:
        return cls(_tags(headers.get("if-match")), _tags(headers.get("if-none-match")))

    @property
    def present(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def check(self, current_sha256: str | None) -> None:
        """412 unless they hold for the newest live file of that name: its sha256, or
        None when there is none."""
        present = current_sha256 is not None
        if self.if_match is not None:
            # Strong comparison: a weak tag never matches (RFC 9110 §13.1.1).
            matched = present and ("*" in self.if_match or f'"{current_sha256}"' in self.if_match)
            if not matched:
                raise PreconditionFailed(message(412))
        if self.if_none_match is not None:
            weak = {tag.removeprefix("w/") for tag in self.if_none_match}
            if present and ("*" in weak or f'"{current_sha256}"' in weak):
                raise PreconditionFailed(message(412))


UNCONDITIONAL = Preconditions()


def _tags(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(tag.strip().lower() for tag in value.split(",") if tag.strip())
