"""What an upload's checksum headers assert (domain/checksums.py, docs/extensions.md):
every form the design lists, read from real digests, and every malformed value refused
with the Grape-style 400 that names the header."""

from __future__ import annotations

import base64
import hashlib

import pytest

from cargobay.domain.checksums import (
    NOTHING_ASSERTED,
    ChecksumMismatch,
    read_assertions,
    repr_digest,
)
from cargobay.domain.preconditions import Preconditions
from cargobay.errors import Invalid, PreconditionFailed

BODY = b"the bytes of a release\n"
SHA256 = hashlib.sha256(BODY).hexdigest()
SHA1 = hashlib.sha1(BODY).hexdigest()
MD5 = hashlib.md5(BODY).hexdigest()
ACTUAL = {"sha256": SHA256, "sha1": SHA1, "md5": MD5}


def b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-checksum-sha256": SHA256}, {"sha256": SHA256}),
        ({"x-checksum-sha256": SHA256.upper()}, {"sha256": SHA256}),
        ({"x-checksum-sha1": SHA1}, {"sha1": SHA1}),
        ({"x-checksum-md5": f" {MD5} "}, {"md5": MD5}),
        ({"x-checksum": SHA256}, {"sha256": SHA256}),
        ({"x-checksum": SHA1}, {"sha1": SHA1}),
        ({"x-checksum": MD5}, {"md5": MD5}),
        ({"content-md5": b64(MD5)}, {"md5": MD5}),
        ({"content-digest": f"sha-256=:{b64(SHA256)}:"}, {"sha256": SHA256}),
        (
            {"repr-digest": f"sha-256=:{b64(SHA256)}:, sha=:{b64(SHA1)}:, md5=:{b64(MD5)}:"},
            ACTUAL,
        ),
        # Algorithms Cargobay does not compute are ignored beside those it does.
        (
            {"content-digest": f"sha-512=:{b64(SHA256 * 2)}:, sha-256=:{b64(SHA256)}:"},
            {"sha256": SHA256},
        ),
        ({"digest": f"SHA-256={b64(SHA256)},MD5={b64(MD5)}"}, {"sha256": SHA256, "md5": MD5}),
        ({"digest": f"sha-256={b64(SHA256)}, unixsum=1234"}, {"sha256": SHA256}),
        # The same digest twice, in two forms, agreeing.
        (
            {"x-checksum-sha256": SHA256, "content-digest": f"sha-256=:{b64(SHA256)}:"},
            {"sha256": SHA256},
        ),
        ({}, {}),
    ],
)
def test_every_form_names_the_digest_it_asserts(
    headers: dict[str, str], expected: dict[str, str]
) -> None:
    asserted = read_assertions(headers)
    assert asserted.expected == expected
    assert asserted.mismatches(ACTUAL) == {}


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"x-checksum-sha256": SHA256[:-1]}, "X-Checksum-Sha256 is invalid"),
        ({"x-checksum-sha256": SHA256[:-1] + "g"}, "X-Checksum-Sha256 is invalid"),
        ({"x-checksum-sha1": SHA256}, "X-Checksum-Sha1 is invalid"),
        ({"x-checksum-md5": ""}, "X-Checksum-Md5 is invalid"),
        ({"x-checksum": "abc"}, "X-Checksum is invalid"),
        ({"x-checksum": "z" * 64}, "X-Checksum is invalid"),
        ({"content-md5": MD5}, "Content-MD5 is invalid"),  # hex where base64 belongs
        ({"content-md5": "not base64!"}, "Content-MD5 is invalid"),
        ({"content-digest": "sha-256=:" + b64(MD5) + ":"}, "Content-Digest is invalid"),
        ({"content-digest": f"sha-256={SHA256}"}, "Content-Digest is invalid"),  # a token
        ({"content-digest": "sha-256=:%%%:"}, "Content-Digest is invalid"),
        ({"repr-digest": "=:x:"}, "Repr-Digest is invalid"),
        ({"digest": "SHA-256"}, "Digest is invalid"),
        ({"digest": "MD5=AAAA"}, "Digest is invalid"),
        ({"x-checksum-deploy": "yes"}, "X-Checksum-Deploy is invalid"),
        ({"x-checksum-deploy": "true"}, "X-Checksum-Sha256 is missing"),
        ({"x-checksum-deploy": "true", "x-checksum-sha1": SHA1}, "X-Checksum-Sha256 is missing"),
        # Two values for one digest that disagree.
        (
            {"x-checksum-sha256": SHA256, "content-digest": f"sha-256=:{b64('00' * 32)}:"},
            "Content-Digest is invalid",
        ),
        ({"x-checksum-md5": MD5, "content-md5": b64("00" * 16)}, "Content-MD5 is invalid"),
    ],
)
def test_a_malformed_or_contradictory_header_is_a_grape_style_400(
    headers: dict[str, str], error: str
) -> None:
    with pytest.raises(Invalid) as refused:
        read_assertions(headers)
    assert refused.value.body == {"error": error}


def test_a_digest_field_with_only_other_algorithms_asks_for_sha256() -> None:
    asserted = read_assertions({"content-digest": f"sha-512=:{b64(SHA256 * 2)}:"})
    assert asserted.expected == {}
    assert asserted.unsupported == ("content-digest",)


def test_a_wrong_digest_is_reported_with_what_was_sent_and_what_arrived() -> None:
    wrong = "0" * 64
    asserted = read_assertions({"x-checksum-sha256": wrong, "x-checksum-md5": MD5})
    mismatches = asserted.mismatches(ACTUAL)
    assert mismatches == {"sha256": {"expected": wrong, "actual": SHA256}}
    assert ChecksumMismatch(mismatches).body == {
        "message": "400 Bad request - Checksum mismatch",
        "checksums": {"sha256": {"expected": wrong, "actual": SHA256}},
    }


def test_turned_off_the_headers_are_ignored_except_for_checksum_deploy() -> None:
    assert read_assertions({"x-checksum-sha256": "nonsense"}, verify=False) == NOTHING_ASSERTED
    deploy = read_assertions(
        {"x-checksum-deploy": "TRUE", "x-checksum-sha256": SHA256}, verify=False
    )
    assert deploy.deploy and deploy.expected == {"sha256": SHA256}
    assert not read_assertions({"x-checksum-deploy": "false"}).deploy


def test_repr_digest_is_rfc_9530s_byte_sequence() -> None:
    assert (
        repr_digest(SHA256)
        == f"sha-256=:{base64.b64encode(hashlib.sha256(BODY).digest()).decode()}:"
    )


@pytest.mark.parametrize(
    ("headers", "current", "holds"),
    [
        ({}, None, True),
        ({}, SHA256, True),
        ({"if-none-match": "*"}, None, True),
        ({"if-none-match": "*"}, SHA256, False),
        ({"if-none-match": f'"{SHA1}"'}, SHA256, True),
        ({"if-none-match": f'W/"{SHA256}"'}, SHA256, False),
        ({"if-match": "*"}, None, False),
        ({"if-match": "*"}, SHA256, True),
        ({"if-match": f'"{SHA256}"'}, SHA256, True),
        ({"if-match": f'"{SHA256.upper()}"'}, SHA256, True),
        ({"if-match": f'"{MD5}", "{SHA256}"'}, SHA256, True),
        ({"if-match": f'"{SHA256}"'}, None, False),
        ({"if-match": f'W/"{SHA256}"'}, SHA256, False),  # strong comparison
        ({"if-match": f'"{MD5}"'}, SHA256, False),
    ],
)
def test_preconditions_follow_rfc_9110(
    headers: dict[str, str], current: str | None, holds: bool
) -> None:
    conditions = Preconditions.read(headers)
    if holds:
        conditions.check(current)
    else:
        with pytest.raises(PreconditionFailed) as refused:
            conditions.check(current)
        assert refused.value.body == {"message": "412 Precondition Failed"}
