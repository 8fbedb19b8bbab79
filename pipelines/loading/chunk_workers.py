"""Chunks of lines turned into rows on every core. Parsing a line with orjson, checking it
and turning a chunk's messages into Arrow columns is most of a load's work, and it ran on
one core while the others waited (py-spy: 59% of the wall time of a 1,000,000-event load).
Worker processes, forked with the line format already imported, take numbered chunks of
lines (`chunk_rows`) and hand back their rows; the load adds them in the order the chunks
were read, so the rows, their receipt order, the kind a new column takes from its first
value, the rejections and the property paths are those of one process. At most
`IN_FLIGHT_PER_WORKER` chunks a worker are in flight, so memory stays bounded whatever the
input size."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager

import pyarrow as pa

from pipelines.loading.json_lines import ChunkRows, JsonLinesFormat, chunk_rows

IN_FLIGHT_PER_WORKER = 2
# Linux's prctl option: the signal a process gets when the one that started it dies.
PR_SET_PDEATHSIG = 1

# The format of this worker process's chunks (`_start_worker`).
_worker_format: JsonLinesFormat


class ChunkWorkers:
    """Worker processes turning chunks of one line format into `ChunkRows`; a worker that
    dies (killed, out of memory) fails the load (`BrokenProcessPool`) instead of leaving it
    waiting."""

    def __init__(self, pool: ProcessPoolExecutor, in_flight: int) -> None:
        self.pool = pool
        self.in_flight = in_flight

    def rows(self, chunks: Iterable[tuple[int, int, list[bytes], str]]) -> Iterator[ChunkRows]:
        """The rows of each chunk (the arguments of `chunk_rows` after the format), in the
        order of `chunks`."""
        pending: deque[Future[ChunkRows]] = deque()
        for chunk in chunks:
            pending.append(self.pool.submit(_worker_chunk_rows, *chunk))
            if len(pending) >= self.in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@contextmanager
def start_chunk_workers(line_format: JsonLinesFormat) -> Iterator[ChunkWorkers | None]:
    """Workers for `line_format`, one per core this process may use; None on one core (the
    load parses in its own process)."""
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        yield None
        return
    pool = ProcessPoolExecutor(
        cores,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(line_format, os.getpid()),
    )
    try:
        yield ChunkWorkers(pool, IN_FLIGHT_PER_WORKER * cores)
    finally:
        pool.shutdown(cancel_futures=True)


def _start_worker(line_format: JsonLinesFormat, load: int) -> None:
    """A worker dies with the load (process `load`): a load killed midway must leave no
    worker behind, holding its output open and waiting for chunks forever. It ignores
    interrupts (the load, which handles them, stops its workers) and leaves termination to
    its default (dlt's handlers belong to the load), takes its Arrow memory from the C
    allocator (in the jemalloc pages it shares with the load after the fork, every buffer
    it wrote copied a page: 300,000 Amplitude events took 3.8 s of system time, 1.2 s with
    this) and gathers property paths without a limit: the load's own `PropertyPaths`
    applies its limit when it merges them."""
    global _worker_format
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != load:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pa.set_memory_pool(pa.system_memory_pool())
    if line_format.property_paths is not None:
        line_format.property_paths.take()
        line_format.property_paths.max_paths = None
    _worker_format = line_format


def _worker_chunk_rows(stream: int, first_number: int, lines: list[bytes], file: str) -> ChunkRows:
    line_format = _worker_format
    result = chunk_rows(line_format, stream, first_number, lines, file)
    if line_format.property_paths is not None:
        result.property_paths = line_format.property_paths.take()
    return result
