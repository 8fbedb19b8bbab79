"""Reading export files: gzip decompressed as far as it goes (`GunzipStream`: a truncated
upload yields its whole lines first) and split into numbered chunks of lines
(`line_chunks`); a stream that breaks off ends with one rejection saying where."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from pipelines.loading.counting import ReadCounter
from pipelines.loading.quarantine import Rejection

CHUNK_LINES = 5_000
READ_BYTES = 1 << 20

UTF8_BOM = b"\xef\xbb\xbf"


class GunzipStream:
    """The decompressed bytes of a gzip stream (`read1`), as far as it can be read: unlike
    `gzip.GzipFile`, everything before a cut comes out before the error (`EOFError`), so a
    truncated file loads its whole lines. Members follow one another, as in gzip."""

    MAX_OUTPUT = 8 << 20

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.decompressor: Any = None
        self.pending = b""
        self.finished = False

    def read1(self, size: int = READ_BYTES) -> bytes:
        while not self.finished:
            data, self.pending = self.pending or self.raw.read(size), b""
            if not data:
                self.finished = True
                if self.decompressor is not None:
                    raise EOFError("the gzip stream ends before its end-of-stream marker")
                return b""
            if self.decompressor is None:
                data = data.lstrip(b"\x00")  # padding between members, as gzip allows
                if not data:
                    continue
                self.decompressor = zlib.decompressobj(wbits=31)
            try:
                output = self.decompressor.decompress(data, self.MAX_OUTPUT)
            except zlib.error as error:
                self.finished = True
                raise OSError(f"not a gzipped file or a corrupt one ({error})") from None
            if self.decompressor.eof:
                self.pending, self.decompressor = self.decompressor.unused_data, None
            else:
                self.pending = self.decompressor.unconsumed_tail
            if output:
                return output
        return b""


def line_chunks(
    source: str, stream: BinaryIO, file: str, counter: ReadCounter, rejections: list[Rejection]
) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, lines) of each `CHUNK_LINES` lines of `stream`; a stream
    that breaks off (a truncated or corrupt file) ends with a rejection of what follows its
    last whole line."""
    first_number, lines, rest, started = 1, [], b"", False
    try:
        while block := stream.read1(READ_BYTES):
            if not started:
                block, started = block.removeprefix(UTF8_BOM), True
            lines.extend((rest + block).split(b"\n"))
            rest = lines.pop()
            while len(lines) >= CHUNK_LINES:
                yield first_number, lines[:CHUNK_LINES]
                del lines[:CHUNK_LINES]
                first_number += CHUNK_LINES
        if rest:
            lines.append(rest)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
        counter.read += 1
        counter.rejected += 1
        if started:
            after = first_number + len(lines)
            reason = f"unreadable after this line: {error}"
        else:
            after, reason = 0, f"unreadable file: {error}"
        rejections.append(Rejection.of_line(source, file, after, rest, reason))
    if lines:
        yield first_number, lines
