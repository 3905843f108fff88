"""Pure pieces of the web interface: password hashes, command text, sizes."""

from __future__ import annotations

import hashlib
import secrets
import shlex

import pytest

from cargobay.auth.passwords import hash_password, needs_rehash, verify_password
from cargobay.web.commands import Target, download_commands, publish_commands
from cargobay.web.format import human_size, parse_size, with_query


def test_argon2id_hashes_verify_and_nothing_else_does() -> None:
    stored = hash_password("s3cret-password")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "s3cret-password")
    assert not verify_password(stored, "s3cret-passwor")
    assert not verify_password(None, "anything")
    assert not verify_password("garbage", "anything")
    assert not needs_rehash(stored)


def legacy_scrypt_hash(password: str) -> str:
    """What POST /users stored before it used Argon2id too: scrypt$N$r$p$salt$key."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${key.hex()}"


def test_the_management_apis_older_scrypt_hashes_still_verify_and_get_upgraded() -> None:
    stored = legacy_scrypt_hash("older-password")
    assert verify_password(stored, "older-password")
    assert not verify_password(stored, "wrong")
    assert needs_rehash(stored)


def test_commands_quote_what_the_shell_would_split() -> None:
    target = Target("http://127.0.0.1:8080", 3, "tool", "1.0.0")
    curl, wget, gitlab = download_commands(target, "linux%2Famd64%2Ftool")
    url = "http://127.0.0.1:8080/api/v4/projects/3/packages/generic/tool/1.0.0/linux%2Famd64%2Ftool"
    assert shlex.split(curl.text)[-1] == url
    assert "--output tool" in curl.text and "--output-document=tool" in wget.text
    assert gitlab.text.endswith("--file-name linux%2Famd64%2Ftool > tool")
    assert '"PRIVATE-TOKEN: $CARGOBAY_TOKEN"' in curl.text
    upload = publish_commands(target, "my dir/it's.tgz", "its.tgz")[0].text
    assert shlex.split(upload)[5] == "my dir/it's.tgz"


@pytest.mark.parametrize(
    "text,size",
    [
        ("0", 0),
        ("5368709120", 5 * 1024**3),
        ("1 KiB", 1024),
        ("500MiB", 500 * 1024**2),
        ("2 GB", 2 * 1000**3),
        ("1.5 GiB", int(1.5 * 1024**3)),
        ("12 bytes", 12),
        ("lots", None),
        ("-1", None),
        ("5 XB", None),
    ],
)
def test_parse_size(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def test_human_size_and_query_links() -> None:
    assert human_size(550) == "550 bytes"
    assert human_size(5 * 1024**3) == "5.0 GiB"
    assert with_query("/p", {"a": "x", "b": ""}, page=2) == "/p?a=x&page=2"
    assert with_query("/p", {}) == "/p"
