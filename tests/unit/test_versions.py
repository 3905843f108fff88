"""The ordering ``~latest`` uses (domain/versions.py; beyond-gitlab.md §3.3), one rule
at a time."""

from __future__ import annotations

import pytest

from cargobay.domain.versions import is_release, precedence, resolve


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.9.0", "1.10.0"),  # numbers, not strings
        ("1.0.95", "1.0.153"),
        ("1.2.3", "1.2.4"),
        ("1.2", "1.2.1"),  # missing parts are 0
        ("0.9", "1"),
        ("1.2.3.4", "1.2.3.5"),  # any number of parts
        ("1.2.3", "1.2.3.1"),
        ("2.0.0-rc1", "2.0.0"),  # a pre-release is below its release
        ("1.0.0-alpha", "1.0.0-alpha.1"),  # semver §11's own example, step by step
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.2"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "1.0.0"),
        ("v1.2.0", "1.3"),  # a v prefix is allowed
        ("1.9.9", "2024.05"),  # mixed schemes compare numerically
        ("01.2", "1.3"),  # leading zeros tolerated
    ],
)
def test_precedence(lower: str, higher: str) -> None:
    low, high = precedence(lower), precedence(higher)
    assert low is not None and high is not None
    assert low < high


@pytest.mark.parametrize(
    "same", [("1.2", "1.2.0"), ("1.2.0", "v1.2.0"), ("1.2.0", "1.2.0+b1"), ("V1.2", "1.2.0+x.y")]
)
def test_equal_precedence(same: tuple[str, str]) -> None:
    assert precedence(same[0]) == precedence(same[1])


@pytest.mark.parametrize(
    "version",
    [
        "latest",
        "this_is_a_string_only",
        "1.2.3g",
        "1.2.bananas",
        "a3f9c2d1e0",
        "1..2",
        "1.2.",
        "-1.2",
        "1.2-",
        "1.2+",
        "٣.1",  # a digit of another script
        "",
    ],
)
def test_not_orderable(version: str) -> None:
    assert precedence(version) is None
    assert not is_release(version)


def test_pre_releases_are_orderable_but_not_releases() -> None:
    assert is_release("1.2.3") and is_release("v2+build.5")
    assert not is_release("1.3.350-20201230123456")  # use +2020... to make it a release


@pytest.mark.parametrize(
    ("versions", "latest", "newest"),
    [
        # The example: published in this order.
        (["1.2.0", "1.10.0", "2.0.0-rc1", "1.9.0"], "1.10.0", "1.9.0"),
        # A real version called latest is never ~latest, but can be ~newest.
        (["1.0", "latest"], "1.0", "latest"),
        # Ties: the one created last.
        (["1.2.0", "1.2"], "1.2", "1.2"),
        (["1.2", "1.2.0+b7"], "1.2.0+b7", "1.2.0+b7"),
        # Only pre-releases and strings: no ~latest, no fallback.
        (["2.0.0-rc1", "nightly", "a3f9c2d"], None, "a3f9c2d"),
        ([], None, None),
    ],
)
def test_resolve(versions: list[str], latest: str | None, newest: str | None) -> None:
    candidates = list(enumerate(versions, start=10))
    by_id = dict(candidates)
    found = resolve("~latest", candidates)
    assert (None if found is None else by_id[found]) == latest
    found = resolve("~newest", candidates)
    assert (None if found is None else by_id[found]) == newest
