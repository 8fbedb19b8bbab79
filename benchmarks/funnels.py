"""The funnel models against ClickHouse's `windowFunnel` (chdb) on the same events, same run.

    BENCH_EVENTS=1000000 .venv/bin/python -m benchmarks.funnels

Writes BENCH_EVENTS events straight into the stitched events the funnels read
(`intermediate.int_events_stitched_to_users`, with `marts.fct_events` a view of them for the
data end) of a fresh database (BENCH_EVENTS
/ 10 users, 5 to an org, 15% of events without an org; times on a 6-hour grid for ties, a
share placed exactly on and one second past a window boundary; a `project_id` property that
some events lack), builds the funnel models with `dbt run` and takes their build time from
run_results.json: the wall span from the first funnel model's start to the last one's end
(dbt builds the two marts in parallel threads, so the sum of the models' own times would count
the time they overlap twice). The baseline copies the same events into a chdb (embedded ClickHouse)
table and times `windowFunnel(window, 'strict_once')` for every funnel; both give one
furthest step per entity and they must be equal for every entity of every funnel.

Each new funnel option is then timed on its own: the first funnel again, with an exclusion,
with `hold_constant`, and with both; its baseline is the same funnel without options.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import chdb.session

from pipelines import warehouse
from pipelines.transform import RUN_RESULTS_PATH, dbt
from pipelines.warehouse import Connection

RESULTS = Path(__file__).with_name("results.json")
# int_events_attributed_to_orgs (a view, with the memberships it may join) is what org funnels
# read; the timed models are the funnel models.
UPSTREAM_MODELS = ("stg_production__memberships", "int_events_attributed_to_orgs")
FUNNEL_MODELS = (
    "int_funnel_events_matched_to_steps",
    "int_funnel_steps_reached",
    "fct_funnel_progress",
    "fct_funnel_steps",
)
FUNNELS = [
    {
        "name": "activation",
        "entity": "user",
        "window_days": 14,
        "steps": ["User Signed Up", "Project Created", "Build Succeeded"],
    },
    {
        "name": "org_upgrade",
        "entity": "org",
        "window_days": 30,
        "steps": ["Organization Created", "Build Succeeded", "Plan Page Viewed", "Plan Upgraded"],
    },
    {
        "name": "upgrade_intent",
        "entity": "user",
        "window_days": 1,
        "steps": ["Plan Page Viewed", "Plan Upgrade Clicked"],
    },
]
OPTIONS = {
    "exclusions": {"exclusions": [{"event": "Build Failed", "after_step": 1, "before_step": 3}]},
    "hold_constant": {"hold_constant": ["project_id"]},
}
EVENT_NAMES = (
    "array['User Signed Up', 'Project Created', 'Build Succeeded', 'Build Succeeded',"
    " 'Build Failed', 'Organization Created', 'Plan Page Viewed', 'Plan Upgraded',"
    " 'Plan Upgrade Clicked', 'Dashboard Viewed']"
)

# Each user's events fall in 20 days from a start day of its own; 70% on a 6-hour grid (ties),
# 10% exactly 1, 14 or 30 days (a window) after the grid point, or one second past it.
EVENTS = f"""
create schema if not exists intermediate;
create table intermediate.int_events_stitched_to_users (
    event_id text not null, event_name text, source_event_name text, source text,
    occurred_at timestamptz, user_id text, anonymous_id text, org_id text, properties jsonb
);
select setseed(0.2024);
insert into intermediate.int_events_stitched_to_users
select
    'e' || n, name, name, 'segment', at, user_number::text, null,
    case when random() < 0.15 then null else (user_number / 5)::text end,
    case
        when random() < 0.1 then '{{}}'::jsonb
        else jsonb_build_object('project_id', 'p' || (user_number %% 7 + floor(random() * 2)))
    end
from (
    select
        n,
        n / 10 as user_number,
        ({EVENT_NAMES})[1 + floor(random() * 10)::int] as name,
        timestamptz '2024-01-01'
        + ((n / 10) %% 90) * interval '1 day'
        + floor(random() * 80) * interval '6 hours'
        + case
            when random() < 0.3 then floor(random() * 21600) * interval '1 second'
            when random() < 0.15
                then (array[1, 14, 30])[1 + floor(random() * 3)::int] * interval '1 day'
                + floor(random() * 2) * interval '1 second'
            else interval '0'
        end as at
    from generate_series(0, %(events)s - 1) as n
) as generated;
analyze intermediate.int_events_stitched_to_users;
create schema if not exists marts;
create view marts.fct_events as select * from intermediate.int_events_stitched_to_users;
"""


def main() -> None:
    events = int(os.environ.get("BENCH_EVENTS", "1000000"))
    server = warehouse.connection()
    target = server.with_database(f"bench_funnels_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(target)
    try:
        with target.cursor() as cursor:
            cursor.execute(EVENTS, {"events": events})
        models_seconds, steps = funnel_models(target, FUNNELS)
        chdb_seconds, expected = clickhouse_funnels(target, FUNNELS)
        if steps != expected:
            raise SystemExit(f"the funnel models differ from chdb: {differences(steps, expected)}")
        options = {name: option_against_plain(target, option) for name, option in OPTIONS.items()}
        options["exclusions_and_hold_constant"] = option_against_plain(
            target, {**OPTIONS["exclusions"], **OPTIONS["hold_constant"]}
        )
    finally:
        warehouse.drop_database(target)
    measures = {
        "funnel_vs_clickhouse": {
            "value": round(models_seconds, 2),
            "unit": "s",
            "baseline": "chdb windowFunnel(window, 'strict_once') on the same events",
            "baseline_value": round(chdb_seconds, 2),
            "ratio": round(models_seconds / chdb_seconds, 2),
        },
        **{f"funnel_option_{name}_vs_plain": measure for name, measure in options.items()},
    }
    entities = sum(len(funnel_steps) for funnel_steps in expected.values())
    write_results({"events": events, "entities_compared": entities, "measures": measures}, measures)


def funnel_models(target: Connection, funnels: list[dict]) -> tuple[float, dict]:
    """Seconds the funnel models took in `dbt run` (the wall span of their run_results.json
    timings, see the module's docstring), and {funnel: {entity: furthest step}} from
    fct_funnel_progress."""
    arguments = ["run", "--quiet", "--select", *UPSTREAM_MODELS, *FUNNEL_MODELS]
    if dbt([*arguments, "--vars", json.dumps({"funnels": funnels})], target) != 0:
        raise SystemExit("dbt run of the funnel models failed")
    results = json.loads(RUN_RESULTS_PATH.read_text())["results"]
    timings = [
        timing
        for result in results
        if result["unique_id"].rsplit(".", 1)[-1] in FUNNEL_MODELS
        for timing in result["timing"]
    ]
    started = min(datetime.fromisoformat(timing["started_at"]) for timing in timings)
    completed = max(datetime.fromisoformat(timing["completed_at"]) for timing in timings)
    seconds = (completed - started).total_seconds()
    furthest: dict[str, dict[str, int]] = {funnel["name"]: {} for funnel in funnels}
    with target.cursor() as cursor:
        cursor.execute(
            "select funnel_name, entity_id, furthest_step from marts.fct_funnel_progress"
        )
        for funnel_name, entity_id, furthest_step in cursor:
            furthest[funnel_name][entity_id] = furthest_step
    return seconds, furthest


def clickhouse_funnels(target: Connection, funnels: list[dict]) -> tuple[float, dict]:
    """Seconds chdb takes to run windowFunnel for every funnel over a table holding the same
    events (copied in beforehand, not timed), and its furthest steps."""
    with tempfile.TemporaryDirectory() as work_dir:
        events_file = Path(work_dir) / "events.csv"
        with target.cursor() as cursor, events_file.open("w") as handle:
            cursor.copy_expert(
                "copy (select coalesce(user_id, ''), coalesce(org_id, ''), event_name,"
                " extract(epoch from occurred_at)::bigint"
                " from intermediate.int_events_stitched_to_users)"
                " to stdout with (format csv)",
                handle,
            )
        session = chdb.session.Session(str(Path(work_dir) / "chdb"))
        session.query(
            "create table events (user_id String, org_id String, event_name String,"
            " at DateTime('UTC')) engine = MergeTree order by (user_id, at)"
        )
        session.query(
            f"insert into events select * from file('{events_file}', 'CSV',"
            " 'user_id String, org_id String, event_name String, at UInt32')"
        )
        furthest = {}
        started = time.perf_counter()
        for funnel in funnels:
            furthest[funnel["name"]] = clickhouse_funnel(session, funnel)
        seconds = time.perf_counter() - started
        session.close()
    return seconds, furthest


def clickhouse_funnel(session: chdb.session.Session, funnel: dict) -> dict[str, int]:
    entity = "user_id" if funnel["entity"] == "user" else "org_id"
    conditions = ", ".join(
        "event_name = '{}'".format(step.replace("'", "\\'")) for step in funnel["steps"]
    )
    window_seconds = funnel["window_days"] * 86400
    result = session.query(
        f"""
        select {entity}, furthest_step from (
            select
                {entity},
                windowFunnel({window_seconds}, 'strict_once')(at, {conditions}) as furthest_step
            from events
            where {entity} != ''
            group by {entity}
        )
        where furthest_step >= 1
        """,
        "JSONCompact",
    )
    return {entity_id: step for entity_id, step in json.loads(result.data())["data"]}


def option_against_plain(target: Connection, option: dict) -> dict:
    """The first funnel's model time with `option` against the same funnel without it."""
    plain_seconds, _ = funnel_models(target, FUNNELS[:1])
    option_seconds, _ = funnel_models(target, [{**FUNNELS[0], **option}])
    return {
        "value": round(option_seconds, 2),
        "unit": "s",
        "baseline": f"the {FUNNELS[0]['name']} funnel without the option",
        "baseline_value": round(plain_seconds, 2),
        "ratio": round(option_seconds / plain_seconds, 2),
    }


def differences(actual: dict, expected: dict) -> str:
    for funnel_name, expected_steps in expected.items():
        actual_steps = actual[funnel_name]
        for entity_id in sorted(actual_steps.keys() | expected_steps.keys()):
            if actual_steps.get(entity_id) != expected_steps.get(entity_id):
                return (
                    f"{funnel_name} entity {entity_id}: {actual_steps.get(entity_id)}"
                    f" against {expected_steps.get(entity_id)}"
                )
    return "none"


def write_results(section: dict, measures: dict) -> None:
    """This benchmark's section, and its measures in the top-level `measures` (contract §9)."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing_measures = existing.get("measures", {})
    RESULTS.write_text(
        json.dumps(
            {**existing, "funnels": section, "measures": {**existing_measures, **measures}},
            indent=2,
        )
        + "\n"
    )
    print(json.dumps(section, indent=2))


if __name__ == "__main__":
    main()
