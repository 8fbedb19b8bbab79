"""The Segment loader against S3 (moto's server on loopback), and a load killed midway."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from loader_fixtures import (
    count,
    segment_message,
    write_segment_file,
)
from moto.server import ThreadedMotoServer

from pipelines import loading, warehouse
from pipelines.sources import segment

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_endpoint(monkeypatch) -> str:
    """An S3-compatible server on 127.0.0.1, with dlt's filesystem credentials pointing at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ENDPOINT_URL": endpoint,
        "REGION_NAME": "us-east-1",
    }.items():
        monkeypatch.setenv(f"SOURCES__FILESYSTEM__CREDENTIALS__{name}", value)
    yield endpoint
    server.stop()


def test_an_s3_prefix_loads_like_a_folder_and_only_new_objects_are_read(
    fresh_warehouse, tmp_path, s3_endpoint
):
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="exports")
    first = write_segment_file(tmp_path, [segment_message(event="Build Started")] * 2)
    s3.upload_file(str(first), "exports", "segment-logs/web-app/1704067200000/part-0000.gz")

    report = segment.load("s3://exports/segment-logs", fresh_warehouse)
    second = write_segment_file(
        tmp_path, [segment_message(event="Build Started"), "bad"], "part-0001.gz"
    )
    s3.upload_file(str(second), "exports", "segment-logs/web-app/1704067200000/part-0001.gz")
    rerun = segment.load("s3://exports/segment-logs", fresh_warehouse)

    assert (report.read, report.loaded, report.duplicate) == (2, 1, 1)
    assert (rerun.read, rerun.loaded, rerun.rejected) == (2, 1, 1)
    assert count(fresh_warehouse, "raw_segment.tracks") == 2
    assert count(fresh_warehouse, "raw_segment._rejected") == 1


def write_large_export(root: Path) -> None:
    for file_number in range(12):
        messages = [
            segment_message(
                message_id=f"{file_number}-{line}",
                user_id=str(line % 50),
                event=f"Event {line % 5}",
                properties={"org_id": str(line % 7), "value": line},
            )
            for line in range(2_500)
        ]
        write_segment_file(root, messages, name=f"part-{file_number:04d}.gz")


def analytics(target: warehouse.Connection, export: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "analytics"), "load", "segment", str(export)],
        env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(process: subprocess.Popen, target: warehouse.Connection, pattern: str) -> None:
    """SIGKILL `process` as soon as its dlt working directory holds a path like `pattern`."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if any(loading.PIPELINES_DIR.glob(f"*_{target.database}_*/*/{pattern}")):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.communicate()


# While extracting, a package's files sit under `normalize/<16-hex-digit hash>/`; while
# loading, the jobs of a normalized package move to `completed_jobs` one by one.
MIDWAY = {
    "extracting": "normalize/" + "?" * 16 + "/*/new_jobs/*",
    "loading": "load/normalized/*/completed_jobs/*",
}


@pytest.mark.parametrize("phase", sorted(MIDWAY))
def test_a_load_killed_midway_and_rerun_ends_with_the_counts_of_a_clean_run(
    fresh_warehouse, tmp_path, phase
):
    write_large_export(tmp_path)
    killed = analytics(fresh_warehouse, tmp_path)
    kill_when(killed, fresh_warehouse, MIDWAY[phase])
    assert killed.returncode == -signal.SIGKILL, "the load finished before it was killed"
    rerun = analytics(fresh_warehouse, tmp_path)

    _, errors = rerun.communicate()
    assert rerun.returncode == 0, errors
    counts = {
        table: count(fresh_warehouse, f"raw_segment.{table}")
        for table in ("tracks", "event_0", "event_4")
    }
    assert counts == {"tracks": 30_000, "event_0": 6_000, "event_4": 6_000}
