"""An interrupted publish, and uploads whose answer was lost: a re-run (or the retry)
leaves the server with exactly the tree, no file missing and none twice."""

from __future__ import annotations

import collections
import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.client.conftest import Recorder, cargobay, client_env
from tests.client.test_publish_fetch import make_tree, package_files, tree_of
from tests.e2e.server import BIN, Server


def stored_names(srv: Server, name: str, version: str) -> collections.Counter[str]:
    from urllib.parse import unquote

    return collections.Counter(
        unquote(str(f["file_name"])) for f in package_files(srv, name, version)
    )


@pytest.mark.backends("sqlite-local")
def test_a_publish_killed_midway_is_finished_by_the_next_run(demo: Server, tmp_path: Path) -> None:
    env = client_env(demo)
    src = tmp_path / "src"
    files = make_tree(src, 120)
    proc = subprocess.Popen(
        [
            str(BIN / "cargobay"),
            "publish",
            str(src),
            "--name",
            "cut",
            "--version",
            "1",
            "--jobs",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    uploaded = 0
    for line in proc.stdout:
        uploaded += line.startswith(("uploaded ", "deployed "))
        if uploaded == 30:
            break
    proc.kill()  # SIGKILL: no cleanup, a transfer may be cut in the middle
    proc.wait(timeout=30)
    proc.stdout.close()
    assert uploaded == 30
    time.sleep(1)  # an upload whose body was complete when the client died may still commit
    before = stored_names(demo, "cut", "1")
    assert 30 <= sum(before.values()) < 120 and max(before.values()) == 1

    run = cargobay(env, "publish", str(src), "--name", "cut", "--version", "1", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert summary["failed"] == []
    assert sorted(summary["skipped"]) == sorted(before)
    assert sorted(summary["uploaded"] + summary["skipped"]) == sorted(files)
    assert stored_names(demo, "cut", "1") == collections.Counter(list(files))

    copy = tmp_path / "copy"
    run = cargobay(env, "fetch", "--name", "cut", "--version", "1", "-o", str(copy))
    assert run.code == 0, run.err
    assert tree_of(copy) == files


@pytest.mark.backends("sqlite-local")
@pytest.mark.parametrize("gitlab_only", [False, True], ids=["cargobay", "gitlab-only"])
def test_lost_answers_add_no_duplicate(demo: Server, tmp_path: Path, gitlab_only: bool) -> None:
    """The server stores the 3rd and 8th PUT, but the client never hears it: once the
    connection closes without an answer, once a proxy answers 502. The client re-reads
    the server's sha256 before retrying, so each file is stored once."""
    proxy = Recorder(demo.port, lose={3: "close", 8: "502"})
    try:
        env = client_env(demo, url=proxy.url)
        if gitlab_only:
            env["CARGOBAY_GITLAB_ONLY"] = "1"
        src = tmp_path / "src"
        # Under 10 KiB each: every PUT carries a body (no checksum-deploy first).
        files = {f"d{i % 3}/f{i}.txt": f"file {i}\n".encode() * (i + 1) for i in range(40)}
        for rel, data in files.items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(data)
        run = cargobay(env, "publish", str(src), "--name", "lost", "--version", "1", "--json")
        assert run.code == 0, run.err
        summary = json.loads(run.out)
        assert summary["failed"] == [] and sorted(summary["uploaded"]) == sorted(files)
        # Both PUTs were stored by the server; the client heard neither answer.
        assert [how for how, _, _ in proxy.lost] == ["close", "502"]
        assert all(200 <= status < 300 for _, _, status in proxy.lost)
    finally:
        proxy.close()
    assert stored_names(demo, "lost", "1") == collections.Counter(list(files))
    copy = tmp_path / "copy"
    run = cargobay(client_env(demo), "fetch", "--name", "lost", "--version", "1", "-o", str(copy))
    assert run.code == 0, run.err
    assert tree_of(copy) == files


@pytest.mark.backends("sqlite-local")
def test_a_cut_download_resumes_with_range_and_a_stale_part_starts_again(
    demo: Server, recorder: Recorder, tmp_path: Path
) -> None:
    """What a killed ``fetch`` leaves is a ``.part`` beside the target: the next fetch asks
    for the rest only (Range, If-Range on the sha256), and a ``.part`` of other bytes
    (the file was re-published since) is thrown away and the file fetched whole."""
    env = client_env(demo, url=recorder.url)
    src = tmp_path / "src"
    big = bytes(range(256)) * 12 * 1024  # 3 MiB
    (src / "d").mkdir(parents=True)
    (src / "d" / "big.bin").write_bytes(big)
    run = cargobay(env, "publish", str(src), "--name", "cutdl", "--version", "1")
    assert run.code == 0, run.err

    copy = tmp_path / "copy"
    (copy / "d").mkdir(parents=True)
    part = copy / "d" / ".big.bin.cargobay-part"
    part.write_bytes(big[: 1024 * 1024])
    run = cargobay(env, "fetch", "--name", "cutdl", "--version", "1", "-o", str(copy))
    assert run.code == 0, run.err
    assert (copy / "d" / "big.bin").read_bytes() == big and not part.exists()
    gets = [h for method, path, h in recorder.requests if method == "GET" and "big.bin" in path]
    assert [h.get("Range") for h in gets] == ["bytes=1048576-"]

    (copy / "d" / "big.bin").unlink()
    part.write_bytes(b"\xff" * (1024 * 1024))  # not a prefix of the file
    recorder.requests.clear()
    run = cargobay(env, "fetch", "--name", "cutdl", "--version", "1", "-o", str(copy))
    assert run.code == 0, run.err
    assert (copy / "d" / "big.bin").read_bytes() == big and not part.exists()
    gets = [h for method, path, h in recorder.requests if method == "GET" and "big.bin" in path]
    assert [h.get("Range") for h in gets] == ["bytes=1048576-", None]
