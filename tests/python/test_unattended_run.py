"""Acceptance of issue 14 with real `analytics` processes on a real PostgreSQL: `analytics
demo`, then a run killed with SIGKILL, then the scheduled run on the demo data (a summary file
and a webhook on a local HTTP server) with a second run started while it holds the lock;
then runs with a dead webhook and with a password in their input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest
from webhook_server import free_port, webhook

from pipelines import warehouse
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration

COMPLETENESS_TEST = "test recent_event_completeness_at_threshold"
# The demo's period ends today, but a table with a few rows a day (identifies) can hold
# nothing newer than 24 hours at some hours of some days: the runs here give the event
# sources three days, so what they check does not depend on the clock.
CLOCK_PROOF = (
    "--vars",
    "{analytics__event_freshness_warn_hours: 72, analytics__event_freshness_error_hours: 72}",
)
# A quick build for the runs that test the plumbing, not the data.
ONE_MODEL = ("--", "--select", "stg_segment__tracks", *CLOCK_PROOF)
PASSWORD = "s3cretPW"


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def command(*arguments: str) -> list[str]:
    return [sys.executable, "-c", "from pipelines.cli import main; main()", *arguments]


def start(environment: dict[str, str], *arguments: str) -> subprocess.Popen:
    """An `analytics` process in a session of its own, so it can be killed with its dbt."""
    return subprocess.Popen(
        command(*arguments),
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, started: float) -> Finished:
    stdout, stderr = process.communicate(timeout=1200)
    return Finished(process.returncode, stdout, stderr, time.monotonic() - started)


def analytics(environment: dict[str, str], *arguments: str) -> Finished:
    started = time.monotonic()
    return finish(start(environment, *arguments), started)


def runs(target: Connection) -> dict[int, dict]:
    with target.cursor() as cursor:
        cursor.execute(
            "select run_id, status, started_at, finished_at, steps, host, version "
            "from ops.pipeline_runs order by run_id"
        )
        columns = [column.name for column in cursor.description]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def wait_for_running_run(target: Connection, after: int = 0, steps: int = 1) -> int:
    """The id of a `running` run newer than `after` once it has recorded `steps` steps."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with target.cursor() as cursor:
            cursor.execute("select to_regclass('ops.pipeline_runs') is not null")
            [(recorded,)] = cursor.fetchall()
        for run_id, run in runs(target).items() if recorded else ():
            if run_id > after and run["status"] == "running" and len(run["steps"]) >= steps:
                return run_id
        time.sleep(0.1)
    raise AssertionError("no run started")


def failed_checks(summary: dict) -> set[str]:
    return {
        check["name"]
        for step in summary["steps"]
        for check in step["checks"]
        if check["status"] in ("failed", "error", "locked_out")
    }


@pytest.fixture(scope="module")
def environment(test_warehouse: Connection, tmp_path_factory) -> dict[str, str]:
    embedded = tmp_path_factory.mktemp("embedded")  # the demo data and dbt's profile
    return {
        **os.environ,
        "ANALYTICS_WAREHOUSE_URL": test_warehouse.url(),
        "ANALYTICS_EMBEDDED_DIR": str(embedded),
    }


@pytest.fixture(scope="module")
def scenario(test_warehouse: Connection, environment: dict[str, str], tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    demo = analytics(environment, "demo")
    warehouse.drop_database(test_warehouse.with_database(f"{test_warehouse.database}_production"))
    assert demo.returncode == 0, demo.stdout + demo.stderr

    killed = start(environment, "run")
    killed_id = wait_for_running_run(test_warehouse, steps=2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()

    with webhook([200]) as (url, received):
        started = time.monotonic()
        holder = start(
            environment,
            "run",
            "--summary-json",
            str(folder / "holder.json"),
            "--notify-url",
            f"{url}/services/T0/B0/secret-token",
            "--",
            *CLOCK_PROOF,
        )
        holder_id = wait_for_running_run(test_warehouse, after=killed_id)
        locked_out = analytics(
            environment, "run", "--summary-json", str(folder / "locked_out.json")
        )
        holder_still_running = holder.poll() is None
        held = finish(holder, started)
    return {
        "killed_id": killed_id,
        "holder_id": holder_id,
        "holder": held,
        "holder_summary": json.loads((folder / "holder.json").read_text()),
        "locked_out": locked_out,
        "locked_out_summary": json.loads((folder / "locked_out.json").read_text()),
        "holder_still_running": holder_still_running,
        "webhook": url,
        "received": received,
        "runs": runs(test_warehouse),
    }


def test_demo_data_run_fails_only_for_the_planted_signup_gap(scenario):
    held, summary = scenario["holder"], scenario["holder_summary"]

    assert held.returncode == 1, held.stdout + held.stderr
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert failed_checks(summary) == {"dbt build", COMPLETENESS_TEST}
    steps = {step["name"]: step for step in summary["steps"]}
    assert steps["freshness"]["status"] == "passed"
    assert steps["freshness"]["counts"]["fresh"] == steps["freshness"]["counts"]["tables"]
    assert steps["plan lint"]["counts"]["errors"] == 0
    assert steps["dbt build"]["counts"]["failed"] == 1


def test_an_overlapping_run_exits_2_at_once_naming_the_holder_and_both_are_recorded(scenario):
    locked_out, holder_id = scenario["locked_out"], scenario["holder_id"]
    holder = scenario["runs"][holder_id]
    locked_out_id = scenario["locked_out_summary"]["run_id"]
    started = holder["started_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    assert locked_out.returncode == 2
    assert locked_out.stderr.splitlines() == [
        f"analytics: another `analytics run` holds the lock: run {holder_id} on "
        f"{holder['host']}, started {started} (this run, {locked_out_id}, is recorded as "
        "locked_out)"
    ]
    assert locked_out.stdout == ""
    assert scenario["holder_still_running"], "the second run waited for the first"
    assert locked_out.seconds < scenario["holder"].seconds / 2
    assert scenario["runs"][locked_out_id]["status"] == "locked_out"
    assert scenario["runs"][locked_out_id]["finished_at"] is not None
    assert holder["status"] == "failed"
    assert scenario["locked_out_summary"]["status"] == "locked_out"
    assert scenario["locked_out_summary"]["exit_code"] == 2


def test_a_sigkilled_run_is_closed_as_error_by_the_next(scenario):
    killed_id, holder_id = scenario["killed_id"], scenario["holder_id"]
    killed = scenario["runs"][killed_id]

    assert killed["status"] == "error"
    assert killed["finished_at"] is not None
    assert killed["steps"][-1]["message"].endswith(f"closed by run {holder_id}")
    lock = scenario["holder_summary"]["steps"][0]
    assert (lock["name"], lock["status"]) == ("lock", "warned")
    assert lock["message"].startswith(f"closed run {killed_id} as error")


def test_the_webhook_receives_the_summary_json_and_the_output_names_only_its_origin(scenario):
    summary, held = scenario["holder_summary"], scenario["holder"]
    [(path, body)] = scenario["received"]

    assert path == "/services/T0/B0/secret-token"
    posted = {key: value for key, value in body.items() if key not in ("text", "checks")}
    notified = {key: value for key, value in summary.items() if key != "checks"}
    assert posted == {**notified, "steps": summary["steps"][:-1]}  # all but its own result
    assert body["text"].startswith(f"analytics run {summary['run_id']} on {summary['host']}: ")
    assert COMPLETENESS_TEST in body["text"]
    notify = summary["steps"][-1]
    assert (notify["name"], notify["status"]) == ("notify", "passed")
    assert f"posted to {scenario['webhook']}" in held.stdout
    assert "secret-token" not in held.stdout + held.stderr
    assert scenario["runs"][summary["run_id"]]["steps"] == summary["steps"]


def test_one_progress_line_per_step_and_dbt_in_its_log_file(scenario):
    held, summary = scenario["holder"], scenario["holder_summary"]
    log_file = Path(summary["log_file"])

    progress = held.stdout.split("\n\nanalytics run ")[0].splitlines()
    assert progress[0].endswith(f"dbt's log in {log_file}")
    assert [line.split(" (")[0][2:] for line in progress[1:]] == [
        step["name"] for step in summary["steps"]
    ]
    assert "Running with dbt=" not in held.stdout
    assert "Running with dbt=" in log_file.read_text()
    assert "Finished running" in log_file.read_text()


def test_a_dead_webhook_does_not_fail_the_run(environment, test_warehouse, scenario, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/hook"
    result = analytics(
        environment,
        "run",
        "--notify-url",
        dead,
        "--summary-json",
        str(tmp_path / "summary.json"),
        *ONE_MODEL,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())

    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["status"] == "warned"
    notify = summary["steps"][-1]
    assert (notify["name"], notify["status"], notify["counts"]) == (
        "notify",
        "warned",
        {"attempts": 3},
    )
    assert notify["message"].startswith(f"could not post to {dead.removesuffix('/hook')}: ")
    assert "Traceback" not in result.stderr
    assert runs(test_warehouse)[summary["run_id"]]["status"] == "warned"


def test_no_password_reaches_the_terminal_the_log_the_summary_or_the_history(
    environment, test_warehouse, scenario, tmp_path
):
    port = free_port()
    result = analytics(
        environment,
        "run",
        "--verbose",
        "--production-url",
        f"postgresql://bob:{PASSWORD}@127.0.0.1:{port}/production",
        "--notify-url",
        f"http://bob:{PASSWORD}@127.0.0.1:{port}/hook",
        "--summary-json",
        str(tmp_path / "summary.json"),
        *ONE_MODEL,
    )
    summary_text = (tmp_path / "summary.json").read_text()
    summary = json.loads(summary_text)
    history = json.dumps(runs(test_warehouse)[summary["run_id"]]["steps"])

    assert result.returncode == 2, result.stdout + result.stderr
    assert summary["steps"][1]["name"] == "load production"
    assert summary["steps"][1]["status"] == "error"
    assert "Running with dbt=" in result.stdout, "--verbose streams dbt's log"
    for text in (result.stdout, result.stderr, Path(summary["log_file"]).read_text()):
        assert PASSWORD not in text
    assert PASSWORD not in summary_text + history
