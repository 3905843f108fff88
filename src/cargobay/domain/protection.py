"""Package protection rules (GitLab's Packages::Protection::Rule). Pure: no I/O.

A rule names packages by a pattern in which ``*`` matches any run of characters, compared
case-insensitively (GitLab turns the pattern into an ILIKE). A caller below the rule's
minimum level for push may not publish a matching package; one below the level for
delete may not delete it. Deploy tokens have no role: any rule with a push level blocks
them. Instance administrators pass every rule.
"""

from __future__ import annotations

from cargobay.domain.models import AccessLevel

ADMIN = 60  # Gitlab::Access::ADMIN: above every member role
PUSH_LEVELS = {"maintainer": AccessLevel.MAINTAINER, "owner": AccessLevel.OWNER, "admin": ADMIN}
DELETE_LEVELS = {"owner": AccessLevel.OWNER, "admin": ADMIN}
LEVEL_NAMES = {int(level): name for name, level in PUSH_LEVELS.items()}
# The package types GitLab's rules accept (its enum slices these out of Package's).
RULE_PACKAGE_TYPES = ("conan", "generic", "helm", "maven", "npm", "nuget", "pypi")
MAX_PATTERN_LENGTH = 255

PROTECTED = "Package protected."
DELETION_PROTECTED = "Package is deletion protected."
NEEDS_A_LEVEL = "A rule must have at least a minimum access role for push or delete."


def level_name(level: int | None) -> str | None:
    return None if level is None else LEVEL_NAMES.get(level, str(level))
