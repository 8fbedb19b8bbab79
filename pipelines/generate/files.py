"""Deterministic compressed files: the same lines give the same bytes."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# Level 1: the exports hold tens of gigabytes of JSON at 10M events; level 6 would make
# compression half the run time for files only about 25% smaller.
COMPRESS_LEVEL = 1
BUFFER_BYTES = 1 << 18
# Zip entries carry a timestamp; a fixed one keeps archives byte-identical between runs.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class GzipLines:
    """Newline-terminated lines into a gzip file with no name and mtime 0 in its header."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lines = 0
        self._raw = path.open("wb")
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=COMPRESS_LEVEL, mtime=0
        )
        self._buffer = io.BufferedWriter(self._gzip, BUFFER_BYTES)  # type: ignore[arg-type]

    def write(self, line: bytes) -> None:
        self._buffer.write(line)
        self._buffer.write(b"\n")
        self.lines += 1

    def close(self) -> None:
        self._buffer.close()
        self._raw.close()


def write_zip(path: Path, members: list[tuple[str, Path]]) -> None:
    """Store already-compressed files in a zip, in the given order, with fixed metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, source in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            with source.open("rb") as data, archive.open(info, "w") as entry:
                while chunk := data.read(1 << 20):
                    entry.write(chunk)


class LaterLines:
    """Lines due in a later day's files, kept on disk until that day, so late arrivals cost
    no memory however many there are. Keyed by (stream, day), one file per key."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._files: dict[tuple[str, int], BinaryIO] = {}

    def add(self, key: tuple[str, int], line: bytes) -> None:
        file = self._files.get(key)
        if file is None:
            file = self._files[key] = (self.folder / f"{key[0]}-{key[1]}.jsonl").open("wb")
        file.write(line)
        file.write(b"\n")

    def waiting(self) -> list[tuple[str, int]]:
        return sorted(self._files)

    def take(self, key: tuple[str, int]) -> Iterator[bytes]:
        """The key's lines in the order they were added; they are gone afterwards."""
        file = self._files.pop(key)
        file.close()
        path = Path(file.name)
        with path.open("rb") as lines:
            for line in lines:
                yield line[:-1]
        path.unlink()
