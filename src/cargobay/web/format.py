"""Jinja filters: sizes, times and URLs as the pages show them."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?|bytes?)?\s*", re.IGNORECASE)
_FACTORS = {"": 1, "B": 1, "BYTE": 1, "BYTES": 1}
for _power, _prefix in enumerate("KMGT", start=1):
    _FACTORS.update(
        {_prefix: 1024**_power, f"{_prefix}IB": 1024**_power, f"{_prefix}B": 1000**_power}
    )


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def iso_time(value: datetime | date | None) -> str:
    """Machine-readable, as GitLab renders times: ``2026-11-22T10:15:03Z``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def short_time(value: datetime | date | None) -> str:
    """Human-readable UTC: ``2026-11-22 10:15 UTC``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def with_query(path: str, params: dict[str, Any], **changes: Any) -> str:
    """``path`` with ``params`` updated by ``changes``; empty values are dropped so URLs
    stay short (defaults are implied)."""
    merged = {**params, **changes}
    query = urlencode([(k, str(v)) for k, v in merged.items() if v not in (None, "")])
    return f"{path}?{query}" if query else path


def parse_size(text: str) -> int | None:
    """``5368709120``, ``500 MiB``, ``5GiB``, ``2 GB`` (decimal) to bytes; None if unreadable."""
    match = _SIZE.fullmatch(text)
    if match is None:
        return None
    factor = _FACTORS.get((match.group(2) or "").upper())
    if factor is None:
        return None
    return int(float(match.group(1)) * factor)


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 package``, ``2 packages``, ``1,024 files``."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"
