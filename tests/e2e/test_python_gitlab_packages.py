"""python-gitlab drives the generic packages and the Packages API against a real server."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import gitlab
import gitlab.exceptions
import pytest

from tests.e2e.server import Server


@pytest.fixture
def gl(server: Server) -> gitlab.Gitlab:
    client = gitlab.Gitlab(server.base_url, private_token=server.token)
    client.auth()
    return client


def digests(data: bytes) -> dict[str, str]:
    return {
        "file_md5": hashlib.md5(data).hexdigest(),
        "file_sha1": hashlib.sha1(data).hexdigest(),
        "file_sha256": hashlib.sha256(data).hexdigest(),
    }


def test_upload_download_list_and_delete(gl: gitlab.Gitlab, tmp_path: Path) -> None:
    group = gl.groups.create({"name": "Releases", "path": "releases"})
    project = gl.projects.create({"name": "tool", "namespace_id": group.id})
    packages = project.generic_packages

    on_disk = tmp_path / "tool.tar.gz"
    on_disk.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4000)
    packages.upload("tool", "1.0.0", "tool.tar.gz", path=on_disk)
    packages.upload("tool", "1.0.0", "notes.txt", data=b"release notes\n")
    with on_disk.open("rb") as stream:  # a file object is streamed, not read into memory
        packages.upload("tool", "1.0.0", "copy.tar.gz", data=stream)
    selected = packages.upload("tool", "1.0.0", "checksums.txt", data=b"abc", select="package_file")
    assert selected.file_name == "checksums.txt"
    assert selected.size == 3 and selected.file_sha256 == hashlib.sha256(b"abc").hexdigest()

    whole = packages.download("tool", "1.0.0", "tool.tar.gz")
    assert whole == on_disk.read_bytes()
    chunks: list[bytes] = []
    packages.download("tool", "1.0.0", "copy.tar.gz", streamed=True, action=chunks.append)
    assert b"".join(chunks) == on_disk.read_bytes()
    iterator = packages.download("tool", "1.0.0", "notes.txt", iterator=True)
    assert b"".join(iterator) == b"release notes\n"

    [package] = project.packages.list(get_all=True, package_name="tool")
    assert package.version == "1.0.0" and package.package_type == "generic"
    files = {f.file_name: f for f in package.package_files.list(get_all=True)}
    assert set(files) == {"tool.tar.gz", "notes.txt", "copy.tar.gz", "checksums.txt"}
    for name, data in (("tool.tar.gz", on_disk.read_bytes()), ("notes.txt", b"release notes\n")):
        assert files[name].size == len(data)
        for field, value in digests(data).items():
            assert getattr(files[name], field) == value
    assert [p.name for p in group.packages.list(get_all=True, package_type="generic")] == ["tool"]

    # Delete a file, then the package: both are gone for downloads and lists.
    project.packages.get(package.id).package_files.delete(files["notes.txt"].id)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as missing:
        packages.download("tool", "1.0.0", "notes.txt")
    assert missing.value.response_code == 404
    project.packages.delete(package.id)
    assert project.packages.list(get_all=True) == []
    with pytest.raises(gitlab.exceptions.GitlabGetError):
        project.packages.get(package.id)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as gone:
        packages.download("tool", "1.0.0", "tool.tar.gz")
    assert gone.value.response_code == 404


def test_get_all_and_iterator_across_more_than_100_packages(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "many"})
    for i in range(105):
        project.generic_packages.upload(f"pkg-{i:03d}", "1.0", "f.txt", data=io.BytesIO(b"x"))
    everything = project.packages.list(get_all=True, order_by="name")
    assert [p.name for p in everything] == [f"pkg-{i:03d}" for i in range(105)]
    lazily = project.packages.list(iterator=True, per_page=20, order_by="name", sort="desc")
    names = [p.name for p in lazily]
    assert names == [f"pkg-{i:03d}" for i in reversed(range(105))]
    # pkg-100 to pkg-104
    assert len(project.packages.list(get_all=True, package_name="pkg-10")) == 5
    first_page = project.packages.list(page=1, per_page=100)
    assert len(first_page) == 100
