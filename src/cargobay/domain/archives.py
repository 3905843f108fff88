"""Whole-package archives and checksum lists (Cargobay's own, docs/extensions.md; design
shared/spec/beyond-gitlab.md §2, §7.7): which files go in, under which names, in which
order, and the container formats' bytes around them.

The same package always gives the same bytes: members are the newest file of each name,
under its decoded path, in byte order of that path, with metadata from the rows alone
(mtime = the file's created_at, mode 0644, owner 0). So an archive has a strong ETag; a tar
also has its length and byte ranges up front (every header depends on metadata only), a
zip and a tar.gz are streamed (a zip member's CRC-32 is known only once its bytes are
read). The formats come from the standard library: ``tarfile`` headers, ``zipfile``
writing to an unseekable stream (data descriptors), ``zlib`` gzip.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import IO

from cargobay.domain.models import PackageFile, newest_per_name
from cargobay.domain.names import decoded_path
from cargobay.errors import bad_params


@dataclass(frozen=True, slots=True)
class ArchiveFormat:
    kind: str  # zip, tar or tar.gz
    media_type: str
    extension: str


FORMATS = {
    "~archive.zip": ArchiveFormat("zip", "application/zip", "zip"),
    "~archive.tar": ArchiveFormat("tar", "application/x-tar", "tar"),
    "~archive.tar.gz": ArchiveFormat("tar.gz", "application/gzip", "tar.gz"),
    "~archive.tgz": ArchiveFormat("tar.gz", "application/gzip", "tgz"),
}
SHA256SUMS = "~sha256sums"
FILE_KEYWORDS = (*FORMATS, SHA256SUMS)


@dataclass(frozen=True, slots=True)
class Member:
    path: str  # the name inside the archive: decoded, under the prefix
    file: PackageFile

    @property
    def mtime(self) -> int:
        return int(self.file.created_at.replace(tzinfo=UTC).timestamp())


_UNSAFE = re.compile(r"(^|/)\.\.?(/|$)|^/|\\|\x00|//|/$")


def directory(value: str | None, param: str) -> str:
    """``?path=`` or ``?prefix=`` as a relative directory ending in ``/`` ("" for none);
    400 ``{"error": "<param> is invalid"}`` for anything that could climb out of it."""
    if not value:
        return ""
    value = value if value.endswith("/") else value + "/"
    if _UNSAFE.search(value[:-1]) or "\x00" in value or value.startswith("/"):
        raise bad_params(f"{param} is invalid")
    return value


def members(files: Iterable[PackageFile], *, under: str = "", prefix: str = "") -> list[Member]:
    """The archive's members: the newest file of each name whose decoded path is under
    ``under``, named ``prefix`` + that path, in byte order. A decoded name that could
    escape the archive's root is left out (uploads cannot make one: defence in depth)."""
    found = []
    for file in newest_per_name(files):
        path = decoded_path(file.file_name)
        if _UNSAFE.search(path) or not path.startswith(under):
            continue
        found.append(Member(prefix + path, file))
    return sorted(found, key=lambda m: m.path.encode("utf-8", "surrogateescape"))


def etag(kind: str, chosen: list[Member]) -> str:
    """A strong ETag: the format and every member's name, content and time."""
    digest = hashlib.sha256(kind.encode())
    for m in chosen:
        digest.update(f"\0{m.path}\0{m.file.file_sha256}\0{m.file.size}\0{m.mtime}".encode())
    return f'"{digest.hexdigest()}"'


def sha256sums(chosen: list[Member]) -> str:
    """One ``<sha256>  <path>`` line per member: what ``sha256sum -c`` reads."""
    return "".join(f"{m.file.file_sha256}  {m.path}\n" for m in chosen)


# ---------------------------------------------------------------- tar


TAR_END = b"\0" * 1024  # two zero blocks; no record padding (tarfile.close() adds 10 KiB)


def tar_header(member: Member) -> bytes:
    """A ustar header, with a PAX header before it only when the name is long or not
    ASCII, or the size needs more than ustar's 8 GiB."""
    info = tarfile.TarInfo(member.path)
    info.size = member.file.size
    info.mtime = member.mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def tar_padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def tar_length(chosen: list[Member]) -> int:
    return sum(
        len(tar_header(m)) + m.file.size + len(tar_padding(m.file.size)) for m in chosen
    ) + len(TAR_END)


def gzip_compressor(level: int) -> zlib._Compress:
    """A gzip stream with a fixed header (mtime 0), so equal input gives equal bytes."""
    return zlib.compressobj(level, zlib.DEFLATED, 31)


# ---------------------------------------------------------------- zip


class _Sink:
    """What zipfile writes to: collected until taken. No tell(): zipfile then writes a
    data descriptor after each member instead of seeking back."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class ZipWriter:
    """Stored (uncompressed) members written one after another: ``start`` a member,
    ``write`` its bytes, ``end`` it, then ``finish``. Each call returns the archive's
    next bytes; only the central directory's records stay in memory."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, mode="w", compression=zipfile.ZIP_STORED)  # type: ignore[call-overload]
        self._member: IO[bytes] | None = None

    def start(self, member: Member) -> bytes:
        created = member.file.created_at
        info = zipfile.ZipInfo(member.path, date_time=created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        info.create_system = 3  # Unix, so that the mode below counts
        info.external_attr = 0o100644 << 16
        info.flag_bits |= 0x800  # names are UTF-8
        info.file_size = member.file.size
        self._member = self._zip.open(
            info, "w", force_zip64=member.file.size >= zipfile.ZIP64_LIMIT
        )
        return self._sink.take()

    def write(self, chunk: bytes) -> bytes:
        assert self._member is not None
        self._member.write(chunk)
        return self._sink.take()

    def end(self) -> bytes:
        assert self._member is not None
        self._member.close()
        self._member = None
        return self._sink.take()

    def finish(self) -> bytes:
        self._zip.close()
        return self._sink.take()

    def abandon(self) -> None:
        """The archive will not be finished (the client went away, a blob was lost):
        close quietly, so nothing complains when the writer is collected."""
        with contextlib.suppress(Exception):
            if self._member is not None:
                self._member.close()
            self._zip.close()
        self._member = None
        self._sink.take()
