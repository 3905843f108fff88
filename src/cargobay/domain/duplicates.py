"""May a file be added to a package that already has a file of the same name? (spec §8)

The exception regex is user-supplied, so it runs on RE2: linear time, no backtracking,
whatever the pattern.
"""

from __future__ import annotations

import functools

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 8 << 20


class InvalidRegex(ValueError):
    pass


@functools.lru_cache(maxsize=256)
def compile_exception_regex(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc  # the binding hands RE2's text as bytes
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise InvalidRegex(text) from exc


def duplicate_allowed(allowed: bool, exception_regex: str, name: str, version: str) -> bool:
    """Newest GitLab semantics: the exceptions invert the setting (MR 165467), and the
    regex must match the whole name or the whole version (MR 265420, a true full match,
    not the older ``\\A<regex>\\z`` that only anchored the outer alternatives)."""
    matched = bool(exception_regex) and any(
        compile_exception_regex(exception_regex).fullmatch(value) is not None
        for value in (name, version)
    )
    return not matched if allowed else matched
