"""How `analytics run` turns dbt's artifacts and the loads into checks and an exit code."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.errors import UserError
from pipelines.loading import LoadReport
from pipelines.run import (
    BROKEN,
    FAIL,
    PASS,
    WARN,
    Check,
    RunSummary,
    Step,
    freshness_step,
    load_step,
    vars_arguments,
)
from pipelines.transform import dbt
from pipelines.warehouse import Connection

CRITERIA = {
    "warn_after": {"count": 12, "period": "hour"},
    "error_after": {"count": 24, "period": "hour"},
}


def sources_json(tmp_path: Path, results: list[dict]) -> Path:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"results": results}), encoding="utf-8")
    return path


def test_freshness_summarises_fresh_sources_and_names_each_stale_one(tmp_path):
    path = sources_json(
        tmp_path,
        [
            {"unique_id": "source.p.segment.tracks", "status": "pass"},
            {
                "unique_id": "source.p.amplitude.events",
                "status": "warn",
                "max_loaded_at_time_ago_in_s": 13 * 3600,
                "criteria": CRITERIA,
            },
            {
                "unique_id": "source.p.segment.identifies",
                "status": "error",
                "max_loaded_at_time_ago_in_s": 3 * 86400,
                "criteria": CRITERIA,
            },
            {
                "unique_id": "source.p.production.users",
                "status": "runtime error",
                "error": "no\ntable",
            },
        ],
    )

    step = freshness_step(1, path)

    assert step.status == FAIL
    assert step.counts == {"tables": 4, "fresh": 1, "warned": 1, "failed": 2}
    assert step.checks == [
        Check(PASS, "freshness", "1 of 4 source tables fresh"),
        Check(WARN, "freshness amplitude.events", "newest row 13.0 hours old (limit 12 hours)"),
        Check(FAIL, "freshness segment.identifies", "newest row 3 days old (limit 24 hours)"),
        Check(FAIL, "freshness production.users", "no table"),
    ]


def test_dbt_crashing_is_broken_not_a_data_failure(tmp_path):
    assert freshness_step(2, tmp_path / "absent.json").status == BROKEN


def test_a_load_that_cannot_run_is_broken_and_too_many_rejects_fail():
    def unreachable() -> LoadReport:
        raise UserError("no Segment export folder at /x")

    assert load_step("segment", unreachable, 0.01).checks == [
        Check(BROKEN, "load", "segment: no Segment export folder at /x")
    ]
    rejecting = LoadReport("segment", read=100, loaded=90, rejected=10)
    assert load_step("segment", lambda: rejecting, 0.01).status == FAIL
    passing = load_step("segment", lambda: rejecting, 0.2)
    assert (passing.name, passing.status) == ("load segment", PASS)
    assert passing.counts == {"read": 100, "loaded": 90, "duplicate": 0, "rejected": 10}


def test_exit_code_is_2_when_broken_1_when_failed_0_when_only_warned():
    warned = Check(WARN, "plan lint", "0 errors, 1 warning")
    failed = Check(FAIL, "test x", "fail: 2 failing rows")
    broken = Check(BROKEN, "load", "segment: unreachable")

    def summary(*checks: Check) -> RunSummary:
        return RunSummary([Step(check.name, [check]) for check in checks])

    assert (summary(warned).exit_code, summary(warned).status) == (0, "warned")
    assert (summary(warned, failed).exit_code, summary(warned, failed).status) == (1, "failed")
    assert summary(warned, failed, broken).exit_code == 2
    assert summary(warned, failed, broken).status == "error"
    assert RunSummary([Step("x", [Check(PASS, "x", "")])]).status == "passed"


def test_the_builds_vars_reach_the_freshness_check_whose_thresholds_are_vars(tmp_path):
    arguments = ("--select", "marts", "--vars", "{analytics__event_freshness_warn_hours: 6}")
    assert vars_arguments(arguments) == ["--vars", "{analytics__event_freshness_warn_hours: 6}"]
    assert vars_arguments(("--vars={a: 1}",)) == ["--vars={a: 1}"]
    assert vars_arguments(("--select", "marts")) == []

    no_server = Connection("127.0.0.1", 1, "nobody", "", "none")  # parsing needs no database
    lines: list[str] = []
    parsed = dbt(
        ["parse", "--target-path", str(tmp_path), *vars_arguments(arguments)],
        no_server,
        lines.append,
    )
    assert parsed == 0, "\n".join(lines)

    sources = json.loads((tmp_path / "manifest.json").read_text())["sources"]
    # Segment's sparse calls (screens, groups, aliases) carry no freshness of their own.
    criteria = {
        name.split(".", 2)[2]: (
            source["freshness"]["warn_after"]["count"],
            source["freshness"]["error_after"]["count"],
        )
        for name, source in sources.items()
        if source.get("freshness") and source["freshness"].get("warn_after")
    }
    assert criteria["segment.tracks"] == criteria["amplitude.events"] == (6, 24)
    assert criteria["production.users"] == (24, 48)
