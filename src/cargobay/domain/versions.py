"""Which version ``~latest`` and ``~newest`` name (Cargobay's own, docs/extensions.md;
design shared/spec/beyond-gitlab.md §3.3).

``~latest`` is the highest released version: semantic-version precedence (semver 2.0.0
§11) generalised to any number of numeric parts, pre-releases never, versions that do
not look like one (a git SHA, ``latest``, ``1.2.bananas``) never. ``~newest`` is the
version created last, whatever its string. GitLab's CI/CD components use ``~latest`` the
same way; GitLab validates versions as ``[\\w+.-]+``, so ``~`` never names a real one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KEYWORDS = ("~latest", "~newest")

# [v]N(.N)*(-PRE)?(+BUILD)?, ASCII only (\d would take other scripts' digits).
_ORDERABLE = re.compile(
    r"[vV]?(?P<numbers>[0-9]+(?:\.[0-9]+)*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z.-]+)?"
)

Precedence = tuple[tuple[int, ...], tuple[object, ...]]


def precedence(version: str) -> Precedence | None:
    """A key that sorts versions by precedence, or None when ``version`` is not
    orderable. Missing numeric parts count as 0 (``1.2`` == ``1.2.0``); a pre-release
    is below its release; build metadata is ignored."""
    match = _ORDERABLE.fullmatch(version)
    if match is None:
        return None
    numbers = [int(n) for n in match["numbers"].split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    pre = match["pre"]
    if pre is None:
        return tuple(numbers), (1,)
    # Numeric identifiers compare as numbers and below alphanumeric ones; with equal
    # leading identifiers, more of them rank higher (tuple order does both).
    identifiers = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in pre.split("."))
    return tuple(numbers), (0, identifiers)


def is_release(version: str) -> bool:
    """Orderable, with no pre-release part."""
    key = precedence(version)
    return key is not None and key[1] == (1,)


def resolve(keyword: str, candidates: Iterable[tuple[int, str]]) -> int | None:
    """The id among ``candidates`` (package id, version), ids increasing with creation,
    that ``keyword`` names: ``~latest`` the highest release (the newest of equal ones),
    ``~newest`` the last created. None: no such version."""
    if keyword == "~newest":
        return max((package_id for package_id, _ in candidates), default=None)
    ranked = [
        (key, package_id)
        for package_id, version in candidates
        if (key := precedence(version)) is not None and key[1] == (1,)
    ]
    return max(ranked)[1] if ranked else None
