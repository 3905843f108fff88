"""The one reading of an integer a client sent: in a path (``:id``, ``:package_id``, a
rule or token id) or a query (``page``, ``per_page``).

Python's ``int()`` is the wrong tool for client text: it takes any Unicode digit (a
full-width ``１`` is 1, a superscript ``²`` is a ValueError), surrounding whitespace and
underscores, and any size, which the database then refuses with an OverflowError. Ruby's
``/\\A\\d+\\z/`` (GitLab's ``find_project``) and Grape's Integer type take ASCII digits
only, so only ASCII digits are read here, and never more of them than a column can hold.
"""

from __future__ import annotations

# The id columns are INTEGER: 32 bits signed on PostgreSQL (SQLite takes 64).
ID_MAX = 2**31 - 1
# No row has id 0 (both engines count from 1): an id past ID_MAX names no row either, so
# it is looked up as 0 and every service answers its own 404 (as Rails does: an
# out-of-range id in a where clause finds nothing).
NO_ROW = 0
# More digits than this cannot be in range, and int() is never handed them (it refuses
# over 4300 digits with a ValueError of its own).
_MAX_DIGITS = len(str(2**63))


def ascii_digits(text: str) -> bool:
    """Only the characters 0-9, at least one."""
    return text.isascii() and text.isdigit()


def ascii_integer(text: str) -> int | None:
    """An optionally signed run of ASCII digits, or None. Past 64 bits the value is
    clamped to +/- 2**63 (callers range-check)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not ascii_digits(digits):
        return None
    value = int(digits) if len(digits) <= _MAX_DIGITS else 2**63
    value = min(value, 2**63)
    return -value if text[:1] == "-" else value


def row_id(text: str) -> int | None:
    """A path id: ASCII digits, as the row id to look up (NO_ROW past the column's
    range); None when the text is not an id at all."""
    if not ascii_digits(text):
        return None
    if len(text) > _MAX_DIGITS:
        return NO_ROW
    value = int(text)
    return value if value <= ID_MAX else NO_ROW


def lookup_text(text: str) -> str:
    """A decoded path or name to compare with stored ones. Bytes that were not UTF-8
    (``%ff``, kept as surrogates by the decoder) become U+FFFD, which no stored path
    holds: the lookup finds nothing, where the raw surrogate would make the database
    driver fail to encode the query."""
    if text.isascii():
        return text
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
