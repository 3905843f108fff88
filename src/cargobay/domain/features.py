"""Feature flags Cargobay knows, and how their gates decide (GitLab's Features API, backed
by Flipper there). Pure: no I/O.

A gate is an explicit on/off for the instance, a namespace (group or user namespace, and
so every project below it) or one project. The most specific gate wins: the project's,
then the nearest namespace's, then the instance's, then the flag's default. Flipper
instead keeps a set of enabled actors beside one boolean, so disabling a default-on flag
for one project turns it off everywhere; the seeds' ``Feature.disable(:generic_packages,
project)`` means "this project only", which is what an explicit off gate gives.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    default_enabled: bool
    milestone: str
    group: str
    type: str = "ops"


GENERIC_PACKAGES = Definition(
    "generic_packages", default_enabled=True, milestone="13.5", group="group::package registry"
)
KNOWN = {flag.name: flag for flag in (GENERIC_PACKAGES,)}

INSTANCE = "instance"
PROJECT = "project"
NAMESPACE = "namespace"


@dataclass(frozen=True, slots=True)
class Gate:
    scope: str  # instance | namespace | project
    scope_id: int
    enabled: bool
    actor: str = ""  # Flipper id: "Project:7", "Group:3", "Namespaces::UserNamespace:4"


def state(definition: Definition, gates: list[Gate]) -> str:
    """GitLab's ``state``: on, off or conditional (some actors differ)."""
    instance = next((g.enabled for g in gates if g.scope == INSTANCE), None)
    default = definition.default_enabled if instance is None else instance
    if any(g.enabled != default for g in gates if g.scope != INSTANCE):
        return "conditional"
    return "on" if default else "off"
