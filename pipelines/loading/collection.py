"""Fewer garbage collections during a load: what a load allocates by the million (parsed
JSON messages, their rows, Arrow buffers) holds no reference cycles and is freed by
reference counting, yet CPython's cyclic collector ran every 700 allocations and walked
every message of a chunk again and again while it was alive, with dlt's and pandas' objects
from the imports. That took about a third of the loader's CPU (300,000 Segment events:
8 s of CPU, 5 s with `fewer_collections`). The objects alive when a load starts are frozen
out of the collector's walks, and young objects are collected every `YOUNG_THRESHOLD`
allocations instead of 700."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 100_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cycles less often while the block runs; the usual thresholds after it."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
