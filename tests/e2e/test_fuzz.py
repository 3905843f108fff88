"""Generated requests against a real server process (issue 19): schemathesis over the
served OpenAPI document, and hypothesis over generic package names, versions and file
paths. No answer is a 5xx, the server log shows no unhandled exception, and no upload
writes a file outside the data directory.

Both are bounded in wall time (FUZZ_SECONDS, PATHS_SECONDS) so the suite stays short;
each run draws fresh cases, so over many runs they cover more."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.e2e.server import Server, make_server

FUZZ_SECONDS = 75.0
PATHS_SECONDS = 20.0
EXAMPLES_PER_OPERATION = 30


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Server]:
    """A server (SQLite + local directory) for each test: what one fuzzer does (revoke
    the token it was given, say) must not fail the other. The token ban is off so
    generated credentials do not lock the fuzzer out of the deeper paths."""
    server = make_server(tmp_path, auth_ban_max_failures="0")
    server.token = server.cli("admin", "bootstrap")
    server.cli("admin", "create-project", "root", "demo")
    server.start()
    yield server
    server.stop()


def _assert_clean_log(server: Server) -> None:
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert "unhandled error" not in log, log[-4000:]


def test_schemathesis_finds_no_server_error(fuzzed: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.api}/openapi.json")
    auth = {"PRIVATE-TOKEN": fuzzed.token}
    deadline = time.monotonic() + FUZZ_SECONDS
    failures: list[str] = []
    # .ok() raises on a schema that does not load: the test fails then.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    budget = FUZZ_SECONDS / max(len(operations), 1)
    calls = 0
    for operation in operations:
        stop_at = min(time.monotonic() + budget, deadline)
        calls += _fuzz(operation, stop_at, auth, failures)
    assert calls > 200, "schemathesis made too few calls to mean anything"
    assert failures == []
    _assert_clean_log(fuzzed)


def _fuzz(operation: Any, stop_at: float, auth: dict[str, str], failures: list[str]) -> int:
    """Call one operation with generated cases until stop_at; the number of calls."""
    calls = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
        nonlocal calls
        if time.monotonic() > stop_at:
            return
        # Half the cases as root, half with whatever credentials were generated.
        response = case.call(headers=auth if calls % 2 else None, timeout=10)
        calls += 1
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code} "
                f"{response.text[:200]}"
            )

    call()
    return calls


# Names, versions and paths from a wide alphabet: traversal pieces, separators and
# percent signs, as well as the characters GitLab allows.
_PIECES = st.sampled_from(
    [".", "..", "/", "\\", "%", "%2e", "%2f", "%00", "~", "@", "+", "-", "_", " ", "\n"]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(min_size=1, max_size=4)), min_size=1, max_size=6).map(
    "".join
)


def _segment(text: str) -> str:
    """Percent-encode everything except what a client may send raw in a path. A part of
    only dots is encoded (``%2E``): a client would collapse ``.`` and ``..`` itself, and
    the server must see what was generated."""
    parts = quote(text, safe="/%.~@+-_").split("/")
    return "/".join(p.replace(".", "%2E") if p and set(p) == {"."} else p for p in parts)


def test_generic_paths_are_created_refused_or_not_found(fuzzed: Server) -> None:
    project = f"{fuzzed.api}/projects/root%2Fdemo/packages/generic"
    auth = {"PRIVATE-TOKEN": fuzzed.token}
    data_dir = fuzzed.data_dir.resolve()
    outside_before = _files_near(data_dir)
    deadline = time.monotonic() + PATHS_SECONDS
    seen: set[int] = set()

    with httpx.Client(timeout=10) as client:

        @settings(
            max_examples=400,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(name=_TEXT, version=_TEXT, path=_TEXT)
        def put_and_get(name: str, version: str, path: str) -> None:
            if time.monotonic() > deadline:
                return
            url = f"{project}/{_segment(name)}/{_segment(version)}/{_segment(path)}"
            put = client.put(url, content=b"fuzz", headers=auth)
            assert put.status_code in (201, 400, 404), (url, put.status_code, put.text)
            assert "message" in put.json() or "error" in put.json()
            seen.add(put.status_code)
            got = client.get(url, headers=auth)
            assert got.status_code in (200, 400, 404), (url, got.status_code, got.text)
            if put.status_code == 201:
                assert got.status_code == 200 and got.content == b"fuzz", url

        put_and_get()
    # A valid name still round-trips, and nothing was written beside the data directory.
    assert 400 in seen
    assert client_round_trip(project, auth)
    assert _files_near(data_dir) == outside_before
    for written in data_dir.rglob("*"):
        assert written.resolve().is_relative_to(data_dir), written
    _assert_clean_log(fuzzed)


def client_round_trip(project: str, auth: dict[str, str]) -> bool:
    url = f"{project}/fuzz-ok/1.0.0/dir/file.bin"
    put = httpx.put(url, content=b"ok", headers=auth)
    return put.status_code == 201 and httpx.get(url, headers=auth).content == b"ok"


def _files_near(data_dir: Path) -> set[Path]:
    """Everything in the data directory's parent, outside the data directory itself
    (the server's log is there, and nothing else may appear)."""
    return {p for p in data_dir.parent.rglob("*") if not p.is_relative_to(data_dir)}
