"""Runs `analytics ARGS` in this process and writes its own peak RSS (bytes) to a file.

    python -m benchmarks.peak_rss OUT_FILE load segment PATH

A child's `ru_maxrss` counts the memory of the process that started it (Linux keeps it
across `exec`), so a benchmark that has just written its test files in memory would see
them in every loader it starts. `VmHWM`, the high-water mark of this process's own memory,
begins at `exec` and is the loader's alone.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path


def own_peak_rss() -> int:
    """This process's peak RSS in bytes (`VmHWM` of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["analytics", *sys.argv[2:]]
    atexit.register(lambda: out.write_text(f"{own_peak_rss()}\n"))
    from pipelines.cli import main as analytics

    analytics()


if __name__ == "__main__":
    main()
