"""What an upload's headers assert about its bytes (Cargobay's own, docs/extensions.md).

GitLab ignores these headers; Cargobay checks them (design: shared/spec/beyond-gitlab.md
§4.2). Artifactory's ``X-Checksum-Sha256``/``-Sha1``/``-Md5`` and ``X-Checksum``, S3's
``Content-MD5``, RFC 9530's ``Content-Digest``/``Repr-Digest`` and RFC 3230's ``Digest``
name the same three digests every upload is hashed with anyway, so checking costs
nothing. A header that cannot be read, or two headers that disagree, answer 400 before
the body is read; a body whose digests differ answers 400 and stores nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from http_sfv.dictionary import Dictionary

from cargobay.errors import Invalid, bad_params, message

# The digests every upload is hashed with, and their sizes in bytes.
ALGORITHMS = {"sha256": 32, "sha1": 20, "md5": 16}
_BY_HEX_LENGTH = {2 * size: name for name, size in ALGORITHMS.items()}
_HEX = re.compile(r"[0-9A-Fa-f]+")
# The RFC 9530 (and RFC 3230, case-insensitive) names of those digests; other
# algorithms are ignored.
_DIGEST_NAMES = {"sha-256": "sha256", "sha": "sha1", "md5": "md5"}
# The headers as clients spell them, for the error messages.
HEADERS = {
    name.lower(): name
    for name in (
        "X-Checksum-Sha256",
        "X-Checksum-Sha1",
        "X-Checksum-Md5",
        "X-Checksum",
        "X-Checksum-Deploy",
        "Content-MD5",
        "Content-Digest",
        "Repr-Digest",
        "Digest",
    )
}
# What the answer names when an RFC 9530 field held only algorithms Cargobay does not
# compute: the RFC's hint that sha-256 would have been checked.
WANT_DIGEST = "sha-256=10"


@dataclass(frozen=True, slots=True)
class Asserted:
    """The digests a request's headers assert, hex by algorithm; ``unsupported``: the
    RFC 9530 fields that named only other algorithms; ``deploy``: checksum-deploy."""

    expected: dict[str, str] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    deploy: bool = False

    def mismatches(self, actual: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Each asserted digest that ``actual`` (hex by algorithm) does not match."""
        return {
            name: {"expected": want, "actual": actual[name]}
            for name, want in self.expected.items()
            if actual[name] != want
        }


NOTHING_ASSERTED = Asserted()


class ChecksumMismatch(Invalid):
    """400: the body's digests are not the ones its headers asserted (§4.3)."""

    def __init__(self, mismatches: dict[str, dict[str, str]]) -> None:
        super().__init__({**message(400, "Checksum mismatch"), "checksums": mismatches})


def read_assertions(headers: Mapping[str, str], *, verify: bool = True) -> Asserted:
    """The digests ``headers`` (lower-case names) assert. ``verify`` False (the
    ``verify_upload_checksums`` setting) ignores them unless the request is a
    checksum-deploy, which has no body without them. Raises the 400 ``{"error":
    "<Header> is invalid"}`` for a value that cannot be read or contradicts another."""
    deploy = _deploy_flag(headers.get("x-checksum-deploy"))
    if not verify and not deploy:
        return Asserted()
    expected: dict[str, str] = {}
    unsupported: list[str] = []

    def add(header: str, algorithm: str, value: str) -> None:
        value = value.lower()
        if expected.setdefault(algorithm, value) != value:
            raise _invalid(header)

    for algorithm, size in ALGORITHMS.items():
        header = f"x-checksum-{algorithm}"
        if header in headers:
            add(header, algorithm, _hex(header, headers[header], 2 * size))
    if "x-checksum" in headers:
        value = headers["x-checksum"].strip()
        guessed = _BY_HEX_LENGTH.get(len(value))
        if guessed is None:
            raise _invalid("x-checksum")
        add("x-checksum", guessed, _hex("x-checksum", value, len(value)))
    if "content-md5" in headers:
        add("content-md5", "md5", _base64("content-md5", headers["content-md5"], 16))
    for header in ("content-digest", "repr-digest"):
        if header in headers:
            found = _structured_digests(header, headers[header])
            if not found:
                unsupported.append(header)
            for algorithm, value in found.items():
                add(header, algorithm, value)
    if "digest" in headers:
        for algorithm, value in _legacy_digests(headers["digest"]).items():
            add("digest", algorithm, value)
    if deploy and "sha256" not in expected:
        raise bad_params("X-Checksum-Sha256 is missing")
    return Asserted(expected, tuple(unsupported), deploy)


@functools.lru_cache(maxsize=4096)  # downloads send it: the same few files again and again
def repr_digest(sha256_hex: str) -> str:
    """RFC 9530's ``sha-256=:<base64>:`` for a hex sha256."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


def _invalid(header: str) -> Invalid:
    return bad_params(f"{HEADERS[header]} is invalid")


def _deploy_flag(value: str | None) -> bool:
    if value is None:
        return False
    value = value.strip().lower()
    if value not in ("true", "false"):
        raise _invalid("x-checksum-deploy")
    return value == "true"


def _hex(header: str, value: str, length: int) -> str:
    value = value.strip()
    if len(value) != length or not _HEX.fullmatch(value):
        raise _invalid(header)
    return value


def _base64(header: str, value: str, size: int) -> str:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(header) from None
    if len(raw) != size:
        raise _invalid(header)
    return raw.hex()


def _structured_digests(header: str, value: str) -> dict[str, str]:
    """An RFC 9530 Dictionary: ``sha-256=:<base64>:, md5=:<base64>:``."""
    parsed = Dictionary()
    try:
        parsed.parse(value.encode("latin-1"))
    except (ValueError, UnicodeEncodeError):
        raise _invalid(header) from None
    found: dict[str, str] = {}
    for key, member in parsed.items():
        algorithm = _DIGEST_NAMES.get(key)
        if algorithm is None:
            continue
        raw = getattr(member, "value", None)
        if not isinstance(raw, bytes) or len(raw) != ALGORITHMS[algorithm]:
            raise _invalid(header)
        found[algorithm] = raw.hex()
    return found


def _legacy_digests(value: str) -> dict[str, str]:
    """RFC 3230's ``SHA-256=<base64>,MD5=<base64>`` (algorithm names case-insensitive)."""
    found: dict[str, str] = {}
    for item in value.split(","):
        name, sep, encoded = item.strip().partition("=")
        if not sep:
            raise _invalid("digest")
        algorithm = _DIGEST_NAMES.get(name.strip().lower())
        if algorithm is not None:
            found[algorithm] = _base64("digest", encoded, ALGORITHMS[algorithm])
    return found
