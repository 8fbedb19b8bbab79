"""Loader throughput and peak memory against a plain `COPY` of the same rows, same run, and
the cost of an incremental load into a large warehouse against the same load into empty
tables.

    BENCH_EVENTS=200000 BENCH_EXISTING_ROWS=1000000 .venv/bin/python -m benchmarks.loaders

Writes N Segment track messages (gzipped JSON lines, 20 files) and N Amplitude events (one
export zip), loads each with `analytics load` in a child process into a fresh database
and measures events/s and the child's peak RSS. The baseline parses the same Segment
file lines with orjson and `COPY`s (id, user_id, event, received_at, properties) into one
table: the floor any loader pays for reading and writing the rows.

The incremental measure times a load of `INCREMENTAL_EVENTS` new events into raw tables
holding BENCH_EXISTING_ROWS rows (a first load's rows copied with new ids, then vacuumed
and analyzed, as autovacuum leaves them); its baseline is the same load into the same,
emptied, tables. A scheduled load must cost the same whatever the warehouse holds: the
ratio should stay near 1.

The contract's measures (§9) go to the top-level `measures` of results.json:
`segment_load_vs_copy` and `amplitude_load_vs_copy` (a loader's events/s over the `COPY`
baseline's rows/s) and `loader_peak_rss_growth`: the loaders' peak RSS (the child's own,
not this process's) at BENCH_RSS_FACTOR (default 10) x BENCH_EVENTS over BENCH_EVENTS, the
larger of the two loaders'. BENCH_RSS_FACTOR=0 skips the large load.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import orjson

from pipelines import loading, warehouse
from pipelines.loading.merging import base_table_columns
from pipelines.sources import amplitude, segment

FILES = 20
INCREMENTAL_EVENTS = 10_000
INCREMENTAL_REPEATS = 5
RESULTS = Path(__file__).with_name("results.json")


def message(number: int) -> dict:
    at = f"2024-01-{1 + number % 28:02d}T{number % 24:02d}:00:00.000Z"
    return {
        "type": "track",
        "messageId": f"m-{number}",
        "userId": str(number % 5000),
        "anonymousId": f"anon-{number % 7000}",
        "event": f"Event {number % 12}",
        "properties": {"org_id": str(number % 300), "value": number, "plan": {"tier": 1}},
        "context": {"library": {"name": "analytics.js"}, "ip": "10.0.0.1", "userAgent": "UA"},
        "timestamp": at,
        "originalTimestamp": at,
        "sentAt": at,
        "receivedAt": at,
    }


def write_segment(
    root: Path, events: int, first: int = 0, day: str = "1704067200000"
) -> list[Path]:
    """Messages `first` to `first + events - 1` in `FILES` files of one received day."""
    folder = root / "segment-logs" / "web-app" / day
    folder.mkdir(parents=True)
    paths = [folder / f"part-{index:04d}.gz" for index in range(FILES)]
    per_file = -(-events // FILES)
    for index, path in enumerate(paths):
        with gzip.open(path, "wb", compresslevel=1) as file:
            stop = first + min(events, (index + 1) * per_file)
            for number in range(first + index * per_file, stop):
                file.write(orjson.dumps(message(number)) + b"\n")
    return paths


def write_amplitude(root: Path, events: int, first: int = 0, name: str = "export.zip") -> Path:
    """Events `first` to `first + events - 1` in one export zip."""
    path = root / "amplitude" / name
    path.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        lines = io.BytesIO()
        for number in range(first, first + events):
            stamp = f"2024-01-01 {number % 24:02d}:05:00.000000"
            event = {
                "$insert_id": f"i-{number}",
                "uuid": str(uuid.UUID(int=number)),
                "event_type": f"Event {number % 12}",
                "user_id": str(number % 5000),
                "device_id": f"d-{number % 7000}",
                "amplitude_id": 10**11 + number,
                "event_time": stamp,
                "server_upload_time": stamp,
                "client_event_time": stamp,
                "session_id": 1704067200000,
                "event_properties": {"org_id": str(number % 300), "value": number},
                "user_properties": {},
                "groups": {"org_id": [str(number % 300)]},
                "group_properties": {},
                "platform": "Web",
            }
            lines.write(orjson.dumps(event) + b"\n")
        archive.writestr("187520/187520_2024-01-01_0#0.json.gz", gzip.compress(lines.getvalue(), 1))
    return path


def copy_baseline(target: warehouse.Connection, paths: list[Path]) -> float:
    """Seconds to parse the Segment lines and `COPY` them into one table."""
    with target.cursor() as cursor:
        cursor.execute(
            "create table copy_baseline (id text, user_id text, event text,"
            " received_at timestamptz, properties jsonb)"
        )
        started = time.perf_counter()
        for path in paths:
            buffer = io.StringIO()
            with gzip.open(path, "rb") as lines:
                for line in lines:
                    row = orjson.loads(line)
                    properties = orjson.dumps(row["properties"]).decode().replace("\\", "\\\\")
                    buffer.write(
                        f"{row['messageId']}\t{row['userId']}\t{row['event']}\t"
                        f"{row['receivedAt']}\t{properties}\n"
                    )
            buffer.seek(0)
            cursor.copy_expert("copy copy_baseline from stdin", buffer)
        return time.perf_counter() - started


def timed_load(target: warehouse.Connection, *arguments: str) -> tuple[float, int]:
    """Seconds and the loader's own peak RSS (bytes, see `benchmarks.peak_rss`) of one
    `analytics load` child process."""
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.peak_rss", peak.name, "load", *arguments],
            env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url()},
            stdout=subprocess.DEVNULL,
            cwd=warehouse.PROJECT_ROOT,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"analytics load {' '.join(arguments)} failed")
        return elapsed, int(Path(peak.name).read_text())


def fresh_database(server: warehouse.Connection) -> warehouse.Connection:
    target = server.with_database(f"bench_loaders_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(target)
    return target


def drop_database(target: warehouse.Connection) -> None:
    warehouse.drop_database(target)
    for pipeline_dir in loading.PIPELINES_DIR.glob(f"*_{target.database}_*"):
        shutil.rmtree(pipeline_dir)


def fill_raw_tables(target: warehouse.Connection, raw_schema: str, key: str, copies: int) -> None:
    """Add `copies` copies of every row of the raw schema's data tables, each with a new `key`
    (and `_dlt_id`), then vacuum and analyze them."""
    with target.cursor() as cursor:
        for table, columns in _data_tables(cursor, raw_schema).items():
            relation = f'"{raw_schema}"."{table}"'
            names = ", ".join(f'"{column}"' for column in columns)
            values = ", ".join(
                f"\"{column}\" || '~' || copy" if column in (key, "_dlt_id") else f'"{column}"'
                for column in columns
            )
            cursor.execute(
                f"insert into {relation} ({names}) select {values} from {relation}"
                f" cross join generate_series(1, {copies}) as copy"
            )
            cursor.execute(f"vacuum analyze {relation}")


def incremental_seconds(
    server: warehouse.Connection, source: str, existing_rows: int
) -> tuple[float, float]:
    """Seconds of the fastest of `INCREMENTAL_REPEATS` loads of `INCREMENTAL_EVENTS` new
    events of `source` into raw tables holding about `existing_rows` rows (0: emptied), in
    all and after extraction (normalize, load, counts: the part the tables' size can slow).
    The loads run in this process: the seconds a child spends starting Python and importing
    dlt would only add noise to a difference of a second or less."""
    raw_schema, key = {
        "segment": ("raw_segment", "id"),
        "amplitude": ("raw_amplitude", "insert_id"),
    }[source]
    target = fresh_database(server)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            _new_export(source, root, target, 0)()
            if existing_rows:
                fill_raw_tables(target, raw_schema, key, existing_rows // INCREMENTAL_EVENTS - 1)
            else:
                _empty_raw_tables(target, raw_schema)
            totals, after_extract = [], []
            for repeat in range(1, INCREMENTAL_REPEATS + 1):
                load = _new_export(source, root, target, INCREMENTAL_EVENTS * repeat)
                started = time.perf_counter()
                report = load()
                totals.append(time.perf_counter() - started)
                if report.loaded != INCREMENTAL_EVENTS:
                    raise SystemExit(f"an incremental load loaded {report.summary()}")
                [extract] = [
                    step
                    for step in loading.pipeline_for(raw_schema, target).last_trace.steps
                    if step.step == "extract"
                ]
                extract_seconds = (extract.finished_at - extract.started_at).total_seconds()
                after_extract.append(totals[-1] - extract_seconds)
            return min(totals), min(after_extract)
    finally:
        drop_database(target)


def _new_export(
    source: str, root: Path, target: warehouse.Connection, first: int
) -> Callable[[], loading.LoadReport]:
    """Write a new export of `INCREMENTAL_EVENTS` events from `first` on; return its load."""
    if source == "segment":
        write_segment(root, INCREMENTAL_EVENTS, first, day=str(1704067200000 + first))
        return lambda: segment.load(root / "segment-logs", target)
    export = write_amplitude(root, INCREMENTAL_EVENTS, first, f"{first}.zip")
    return lambda: amplitude.load_archives(export, target)


def _empty_raw_tables(target: warehouse.Connection, raw_schema: str) -> None:
    with target.cursor() as cursor:
        tables = ", ".join(
            f'"{raw_schema}"."{table}"' for table in _data_tables(cursor, raw_schema)
        )
        cursor.execute(f"truncate {tables}")


def _data_tables(cursor, raw_schema: str) -> dict[str, list[str]]:
    """The columns of each table of loaded rows (dlt's own tables and `_rejected` aside)."""
    return {
        table: columns
        for table, columns in base_table_columns(cursor, raw_schema).items()
        if not table.startswith("_")
    }


def peak_rss_at(server: warehouse.Connection, events: int) -> tuple[int, int]:
    """The Segment and the Amplitude loader's peak RSS (bytes) loading `events` events."""
    target = fresh_database(server)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            write_segment(root, events)
            archive = write_amplitude(root, events)
            _, segment_rss = timed_load(target, "segment", str(root / "segment-logs"))
            _, amplitude_rss = timed_load(target, "amplitude", "--path", str(archive))
            return segment_rss, amplitude_rss
    finally:
        drop_database(target)


def contract_measures(
    events: int,
    baseline_rate: float,
    segment_rate: float,
    amplitude_rate: float,
    rss: tuple[int, int],
    large_rss: tuple[int, int] | None,
    factor: int,
) -> dict:
    """The contract's measures (§9), each `{value, unit, baseline, baseline_value, ratio}`."""
    copy = f"COPY of the same rows, {events:,} rows"
    measures = {
        f"{source}_load_vs_copy": {
            "value": round(rate),
            "unit": "events/s",
            "baseline": copy,
            "baseline_value": round(baseline_rate),
            "ratio": round(rate / baseline_rate, 3),
        }
        for source, rate in (("segment", segment_rate), ("amplitude", amplitude_rate))
    }
    if large_rss is not None:
        growths = [large / small for small, large in zip(rss, large_rss, strict=True)]
        worst = growths.index(max(growths))
        measures["loader_peak_rss_growth"] = {
            "value": large_rss[worst] // 2**20,
            "unit": "MiB",
            "baseline": f"{('segment', 'amplitude')[worst]} loader at {events:,} events "
            f"(this value: at {factor * events:,})",
            "baseline_value": rss[worst] // 2**20,
            "ratio": round(max(growths), 3),
        }
    return measures


def main() -> None:
    events = int(os.environ.get("BENCH_EVENTS", "1000000"))
    existing_rows = int(os.environ.get("BENCH_EXISTING_ROWS", "1000000"))
    rss_factor = int(os.environ.get("BENCH_RSS_FACTOR", "10"))
    server = warehouse.connection()
    target = fresh_database(server)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            paths = write_segment(root, events)
            archive = write_amplitude(root, events)
            baseline = copy_baseline(target, paths)
            segment_seconds, segment_rss = timed_load(target, "segment", str(root / "segment-logs"))
            amplitude_seconds, amplitude_rss = timed_load(
                target, "amplitude", "--path", str(archive)
            )
    finally:
        drop_database(target)
    baseline_rate = events / baseline
    measures = {
        "copy_baseline_events_per_second": {"value": round(baseline_rate), "unit": "events/s"},
        "segment_load_events_per_second": _against(events / segment_seconds, baseline_rate),
        "segment_load_peak_rss": {"value": segment_rss // 2**20, "unit": "MiB"},
        "amplitude_load_events_per_second": _against(events / amplitude_seconds, baseline_rate),
        "amplitude_load_peak_rss": {"value": amplitude_rss // 2**20, "unit": "MiB"},
    }
    for source in ("segment", "amplitude"):
        empty = incremental_seconds(server, source, 0)
        full = incremental_seconds(server, source, existing_rows)
        for name, position in (("load", 0), ("load_after_extract", 1)):
            measures[f"{source}_incremental_{name}_seconds"] = {
                "value": round(full[position], 2),
                "unit": "s",
                "baseline": round(empty[position], 2),
                "ratio": round(full[position] / empty[position], 3),
            }
    large_rss = peak_rss_at(server, rss_factor * events) if rss_factor else None
    contract = contract_measures(
        events,
        baseline_rate,
        events / segment_seconds,
        events / amplitude_seconds,
        (segment_rss, amplitude_rss),
        large_rss,
        rss_factor,
    )
    results = {
        "events": events,
        "incremental_events": INCREMENTAL_EVENTS,
        "existing_rows": existing_rows,
        "measures": measures,
    }
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    top = {**existing.get("measures", {}), **contract}
    RESULTS.write_text(
        json.dumps({**existing, "measures": top, "loaders": results}, indent=2) + "\n"
    )
    print(json.dumps({"measures": contract, **results}, indent=2))


def _against(rate: float, baseline_rate: float) -> dict:
    return {
        "value": round(rate),
        "unit": "events/s",
        "baseline": round(baseline_rate),
        "ratio": round(rate / baseline_rate, 3),
    }


if __name__ == "__main__":
    main()
