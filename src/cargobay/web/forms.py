"""A form re-rendered after a refusal: what the visitor typed, and each error beside the
field it is about (the first one gets ``autofocus``, which also scrolls it into view).

A refused form is answered with the page itself (status 400 or 422), not a redirect, so
nothing typed is lost and the error is next to its field rather than in a banner at the
top of the page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData

from cargobay.errors import CargobayError
from cargobay.web.page import ERROR_TITLES, describe


@dataclass
class FormState:
    """``name`` prefixes the error ids, so two forms on one page never share one."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, form: FormData) -> FormState:
        values: dict[str, Any] = {}
        for key in form:
            if key == "_csrf":
                continue
            items = [v for v in form.getlist(key) if isinstance(v, str)]
            values[key] = items if len(items) > 1 else (items[0] if items else "")
        return cls(name, values)

    def value(self, key: str, default: Any = "") -> Any:
        """What was typed, or ``default`` when the form was not submitted."""
        return self.values.get(key, default) if self.values else default

    def chosen(self, key: str) -> list[str]:
        found = self.values.get(key, [])
        return [found] if isinstance(found, str) else list(found)

    def refuse(self, key: str, text: str) -> None:
        self.errors.setdefault(key, text)

    @property
    def first(self) -> str | None:
        return next(iter(self.errors), None)

    def error_id(self, key: str) -> str:
        return f"{self.name}-{key}-error"

    def attrs(self, key: str, help_id: str = "") -> Markup:
        """Attributes for the control ``key``: its help text, and when it was refused,
        ``aria-invalid``, the error's id and (first error only) ``autofocus``."""
        described = [help_id] if help_id else []
        extra = Markup("")
        if key in self.errors:
            described.append(self.error_id(key))
            extra = Markup(' aria-invalid="true"')
            if self.first == key:
                extra += Markup(" autofocus")
        if described:
            extra = Markup(' aria-describedby="{}"').format(" ".join(described)) + extra
        return extra

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def refuse_from(state: FormState, exc: CargobayError, fields: dict[str, str]) -> None:
    """Put a service's refusal beside its field. ``fields`` maps what the service names
    (a validation error's key, or the start of its message) to the form's field; what
    matches none is shown at the top of the form (``_form``)."""
    message = exc.body.get("message")
    if isinstance(message, str) and (found := _RUBY_ERRORS.search(message)):
        message = _ruby_errors(found.group(1))  # "Failed to save group {:path=>[...]}"
    if isinstance(message, dict) and "error" not in message:
        for key, problems in message.items():
            text = ", ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
            state.refuse(fields.get(key, "_form"), f"{key.replace('_', ' ').capitalize()} {text}")
        return
    text = describe(exc) or ERROR_TITLES.get(exc.status, "That was refused") + "."
    if isinstance(message, dict) and "error" in message:
        text = str(message["error"])
    for start, key in fields.items():
        if text.startswith(start):
            state.refuse(key, text)
            return
    state.refuse("_form", text)


_RUBY_ERRORS = re.compile(r"^(?:\d{3} [^-]*- )?Failed to save \w+ (\{.*\})$", re.DOTALL)
_RUBY_ENTRY = re.compile(r':(\w+)=>\[((?:"(?:[^"\\]|\\.)*"(?:, )?)*)\]')
_RUBY_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _ruby_errors(text: str) -> dict[str, list[str]]:
    """``{:path=>["has already been taken"]}`` (services/namespaces.ruby_hash) back into
    a dict."""
    return {
        key: [re.sub(r"\\(.)", r"\1", m) for m in _RUBY_STRING.findall(items)]
        for key, items in _RUBY_ENTRY.findall(text)
    }
