"""The run lock and history on a real PostgreSQL, and the webhook against a real HTTP server
(http.server in a thread)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from webhook_server import free_port, webhook

from pipelines import ops
from pipelines.run import PASS, WARN, Check, RunSummary, Step, headline
from pipelines.warehouse import Connection


def test_the_webhook_receives_the_summary_with_slack_text_and_only_its_origin_is_named():
    with webhook([200]) as (url, received):
        result = ops.notify(f"{url}/services/T0/B0/secret", {"run_id": 7}, "analytics run 7: OK")

    assert received == [("/services/T0/B0/secret", {"text": "analytics run 7: OK", "run_id": 7})]
    assert result == ops.Notification(True, 1, f"posted to {url}")


def test_a_failing_webhook_is_retried_briefly_then_reported_never_raised():
    with webhook([503, 502, 200]) as (url, received):
        recovered = ops.notify(url, {}, "text", backoff_seconds=0)
    with webhook([500]) as (broken_url, received_by_broken):
        broken = ops.notify(broken_url + "/secret", {}, "text", backoff_seconds=0)
    with webhook([404]) as (url, received_by_wrong):
        wrong = ops.notify(url, {}, "text", backoff_seconds=0)
    dead = ops.notify(f"http://127.0.0.1:{free_port()}/secret", {}, "text", backoff_seconds=0)

    assert (recovered.delivered, recovered.attempts, len(received)) == (True, 3, 3)
    assert (broken.delivered, broken.attempts, len(received_by_broken)) == (False, 3, 3)
    assert broken.message == f"could not post to {broken_url}: HTTP 500 (3 attempts)"
    assert (wrong.delivered, wrong.attempts, len(received_by_wrong)) == (False, 1, 1)
    assert (dead.delivered, dead.attempts) == (False, 3)
    assert "cannot connect" in dead.message and "secret" not in dead.message


def test_the_origin_of_a_url_drops_credentials_path_and_query():
    assert ops.url_origin("https://u:pw@hooks.example.com:8443/a/b?token=x") == (
        "https://hooks.example.com:8443"
    )


def test_the_notification_text_leads_with_the_outcome_then_what_did_not_pass():
    record = ops.RunRecord(3, datetime(2026, 1, 1, tzinfo=UTC), "etl-1", "0.1.0")
    summary = RunSummary(
        [
            Step("lock", [Check(PASS, "lock", "run 3 holds the run lock")]),
            Step("load production", [Check(WARN, "load", "postgresql://bob:pw@db/x slow")]),
        ]
    )

    assert summary.steps[1].document()["message"] == "postgresql://bob:***@db/x slow"
    assert headline(summary, record) == (
        "analytics run 3 on etl-1: OK (1 passed, 1 warned, 0 failed)\n"
        "! load: postgresql://bob:***@db/x slow"
    )


def test_an_unreachable_warehouse_is_still_written_and_posted_without_its_password(tmp_path):
    summary_path = tmp_path / "summary.json"
    warehouse_url = f"postgresql://bob:s3cretPW@127.0.0.1:{free_port()}/analytics"
    with webhook([200]) as (url, received):
        result = subprocess.run(
            [
                *(sys.executable, "-c", "from pipelines.cli import main; main()", "run"),
                *("--summary-json", str(summary_path), "--notify-url", url),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "ANALYTICS_WAREHOUSE_URL": warehouse_url},
        )
    summary = json.loads(summary_path.read_text())

    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "postgresql://bob:***@127.0.0.1" in result.stderr
    assert (summary["run_id"], summary["status"], summary["exit_code"]) == (None, "error", 2)
    assert [step["name"] for step in summary["steps"]] == ["warehouse", "notify"]
    [(_, posted)] = received
    assert posted["text"].startswith("analytics run on ")
    assert "s3cretPW" not in result.stdout + result.stderr + summary_path.read_text()
    assert "s3cretPW" not in json.dumps(posted)


@pytest.mark.integration
def test_a_second_run_is_locked_out_and_a_dead_runs_row_is_closed_by_the_next(
    fresh_warehouse: Connection,
):
    first = ops.RunHistory(fresh_warehouse)
    record, abandoned = first.start()
    assert abandoned == []

    second = ops.RunHistory(fresh_warehouse)
    with pytest.raises(ops.LockedOut) as locked_out:
        second.start()
    second.close()
    first.record_steps(record, [ops.step_document("load segment", "passed", 1.0, {}, "ok")])
    first.close()  # the session ends as a killed process's would: no finish recorded

    third = ops.RunHistory(fresh_warehouse)
    next_record, closed = third.start()
    third.finish(next_record, "passed", [], datetime.now(UTC))
    third.close()

    assert locked_out.value.holder == record
    started = record.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert str(locked_out.value) == (
        f"another `analytics run` holds the lock: run {record.run_id} on {record.host}, "
        f"started {started} (this run, {record.run_id + 1}, is recorded as locked_out)"
    )
    assert closed == [record.run_id]
    with fresh_warehouse.cursor() as cursor:
        cursor.execute(
            "select run_id, status, finished_at is not null, steps from ops.pipeline_runs "
            "order by run_id"
        )
        rows = cursor.fetchall()
    assert [(run_id, status, finished) for run_id, status, finished, _ in rows] == [
        (record.run_id, "error", True),
        (record.run_id + 1, "locked_out", True),
        (next_record.run_id, "passed", True),
    ]
    dead_steps = rows[0][3]
    assert [step["name"] for step in dead_steps] == ["load segment", "run"]
    assert dead_steps[-1]["status"] == "error"
    assert dead_steps[-1]["message"].endswith(f"closed by run {next_record.run_id}")
