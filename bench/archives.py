"""A whole 1 GiB package as one archive against fetching its files one by one, in the
same run, on the embedded default (SQLite + local blobs), with the server's peak memory.

    .venv/bin/python -m bench.archives [--runs N] [--out FILE]

The package: 16 files of 64 MiB. Per run, in turn after a sync: ``~archive.tar`` (a
known length), ``~archive.zip`` (stored, CRC-32 on the way), ``~archive.tar.gz`` (gzip
level 1), and the 16 files fetched by 16 sequential curl calls (the docs' loop). MB/s are
of the package's bytes. The tar.gz is also set against the one-thread zlib level-1 rate
of this machine on the same (random, incompressible) bytes: its physical limit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from bench.run import GIB, MIB, PeakRss, cargobay, curl, progress, stats

FILES = 16
FILE_SIZE = GIB // FILES


def zlib_rate(level: int = 1, size: int = 256 * MIB) -> float:
    """MB/s of one thread gzipping random bytes a MiB at a time, as the server does."""
    data = os.urandom(size)
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    start = time.perf_counter()
    for i in range(0, size, MIB):
        compressor.compress(data[i : i + MIB])
    compressor.flush()
    return size / MIB / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "archives.json"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        with cargobay(tmp, 1) as (server, token, generic):
            auth = ["--header", f"PRIVATE-TOKEN: {token}"]
            progress(f"publish a package of {FILES} files of {FILE_SIZE // MIB} MiB")
            for i in range(FILES):
                part = tmp / "part.bin"
                part.write_bytes(os.urandom(FILE_SIZE))
                curl(*auth, "-T", str(part), f"{generic}/pkg/1.0/dir/part-{i:02}.bin")
            part.unlink()
            base = f"{generic}/pkg/1.0"
            kinds = {
                "tar": lambda: curl(*auth, f"{base}/~archive.tar"),
                "zip": lambda: curl(*auth, f"{base}/~archive.zip"),
                "tar_gz": lambda: curl(*auth, f"{base}/~archive.tar.gz"),
                "file_by_file": lambda: sum(
                    curl(*auth, f"{base}/dir/part-{i:02}.bin") for i in range(FILES)
                ),
            }
            seconds: dict[str, list[float]] = {k: [] for k in kinds}
            progress(f"archives and file by file, {args.runs} runs each")
            with PeakRss(server.proc.pid) as rss:  # type: ignore[union-attr]
                for _ in range(args.runs):
                    for kind, run in kinds.items():
                        os.sync()
                        seconds[kind].append(run())
            reference = statistics.median(seconds["file_by_file"])
            for kind, values in seconds.items():
                results[kind] = {
                    "mb_s": stats([GIB / MIB / t for t in values]),
                    "ratio_vs_file_by_file": round(reference / statistics.median(values), 3),
                }
            results["peak_rss_mb"] = round(rss.peak / MIB, 1)
    rate = zlib_rate()
    results["zlib_level1_mb_s"] = round(rate, 1)
    results["tar_gz"]["ratio_vs_zlib"] = round(results["tar_gz"]["mb_s"]["median"] / rate, 3)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
