"""One new day's `dbt build` against the full build, at 90 days of data, in the same run.

    BENCH_EVENTS=900000 .venv/bin/python -m benchmarks.incremental_events

Fills the raw tables of a fresh database with 90 days of events (BENCH_EVENTS Segment tracks,
received day by day, one dlt load a day, from a tenth of the users each day; 30% forwarded to
Amplitude and 10% more only there; a device per user, identified once; 300 organizations with
plan changes),
builds everything, then loads day 91 (with a few events of day 10 arriving late) and times the
scheduled run's `dbt build` (incremental, no unit tests) against `dbt build --full-refresh` on
the same 91 days: the full build is the baseline (`incremental_day_vs_full_build`). The event
chain's own model time (`int_events_deduplicated`, the device claims, `fct_events`, from
run_results.json) is reported too, and every mart the incremental build left must equal the
full build's.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from pipelines import warehouse
from pipelines.demo import WARN_ON_COMPLETENESS
from pipelines.transform import RUN_RESULTS_PATH, WITHOUT_UNIT_TESTS, dbt
from pipelines.warehouse import Connection

DAYS = 90
EVENTS_PER_ACTIVE_USER = 5
RESULTS = Path(__file__).with_name("results.json")
EVENT_CHAIN = (
    "int_events_deduplicated",
    "int_anonymous_ids_mapped_to_users",
    "fct_events",
)
EVENT_NAMES = (
    "array['Build Started', 'Build Succeeded', 'Build Failed', 'Dashboard Viewed',"
    " 'Plan Page Viewed', 'click-plan-update', 'Project Created', 'User Logged In']"
)

PRODUCTION = """
insert into raw_production.plans (id, name, tier, monthly_price_cents)
values ('free', 'Free', 0, 0), ('team', 'Team', 1, 2900), ('business', 'Business', 2, 9900);
insert into raw_production.organizations
    (id, name, created_at, primary_language, vcs_provider, updated_at)
select g, 'org ' || g, timestamptz '2024-01-01' + (g %% 90) * interval '1 day',
    (array['ruby', 'python', 'go', 'java'])[1 + g %% 4], (array['github', 'gitlab'])[1 + g %% 2],
    timestamptz '2024-01-01'
from generate_series(1, 300) as g;
insert into raw_production.users (id, email, created_at, updated_at)
select g, 'u' || g || '@org' || (1 + g %% 300) || '.com',
    timestamptz '2024-01-01' + (g %% 90) * interval '1 day', timestamptz '2024-01-01'
from generate_series(1, %(users)s) as g;
insert into raw_production.memberships
    (id, user_id, organization_id, role, created_at, updated_at)
select g, g, 1 + g %% 300, case when g <= 300 then 'owner' else 'member' end,
    timestamptz '2024-01-01' + (g %% 90) * interval '1 day', timestamptz '2024-01-01'
from generate_series(1, %(users)s) as g;
insert into raw_production.subscription_changes (id, organization_id, changed_at, from_plan_id,
    to_plan_id, changed_by_user_id, updated_at, _dlt_load_id)
select g, 1 + g %% 300,
    timestamptz '2024-01-01' + (g %% 90) * interval '1 day' + interval '3 hours',
    case when g > 300 then 'team' else 'free' end,
    case when g > 300 then 'business' else 'team' end,
    1 + g %% 300, timestamptz '2024-01-01', '1704067200.3'
from generate_series(1, 400) as g;
insert into raw_segment.identifies (id, anonymous_id, user_id, received_at, timestamp)
select 'i-' || g, 'device-' || g, g::text, timestamptz '2024-01-01', timestamptz '2024-01-01'
from generate_series(1, %(users)s) as g;
"""

# Received day by day, each day in its own dlt load (the load id is the day's end in epoch
# seconds, as dlt's are); every 100th event received on the last day happened on day 10 (a
# device that was offline). Each day a tenth of the users is active, EVENTS_PER_ACTIVE_USER events
# each, the next tenth the next day: every user is active one day in ten.
DAYS_OF_EVENTS = f"""
with events as (
    select d, n, 1 + (d * %(active_users)s + n / %(events_per_active_user)s) %% %(users)s
        as user_number,
        timestamptz '2024-01-01'
        + (case when d = %(last_day)s and n %% 100 = 0 then 10 else d end) * interval '1 day'
        + n * (interval '86400 seconds' / %(per_day)s) as at,
        timestamptz '2024-01-01' + d * interval '1 day'
        + n * (interval '86400 seconds' / %(per_day)s) as received,
        (1704067200 + (d + 1) * 86400)::text as load_id
    from generate_series(%(first_day)s, %(last_day)s) as d,
        generate_series(1, %(per_day)s) as n
),
tracks as (
    insert into raw_segment.tracks (id, anonymous_id, user_id, received_at, sent_at, timestamp,
        original_timestamp, context_library_name, event, event_text, properties, _source_file,
        _dlt_load_id)
    select 'm-' || d || '-' || n, 'device-' || user_number,
        case when n %% 10 = 0 then null else user_number::text end, received, received, at, at,
        'analytics.js', 'event', ({EVENT_NAMES})[1 + n %% 8],
        jsonb_build_object('org_id', (1 + user_number %% 300)::text), 'day-' || d,
        load_id || '.1'
    from events
)
insert into raw_amplitude.events (insert_id, uuid, event_type, user_id, device_id, event_time,
    server_upload_time, client_event_time, event_properties, groups, platform, _source_file,
    _dlt_load_id)
select case when n %% 10 < 3 then 'm-' else 'amp-' end || d || '-' || n, md5('u' || d || '-' || n),
    ({EVENT_NAMES})[1 + n %% 8], user_number::text, 'device-' || user_number, at, received, at,
    '{{}}'::jsonb, jsonb_build_object('org_id', jsonb_build_array((1 + user_number %% 300)::text)),
    'Web', 'day-' || d, load_id || '.2'
from events
where n %% 10 < 4
"""


def execute(target: Connection, sql: str, parameters: dict) -> None:
    with target.cursor() as cursor:
        cursor.execute(sql, parameters)
        cursor.execute("analyze")


def timed_build(target: Connection, *arguments: str) -> tuple[float, dict[str, float]]:
    """Wall seconds of a `dbt build` as the scheduled run does it, and the seconds each of its
    nodes took."""
    started = time.perf_counter()
    build = ["build", "--quiet", *WITHOUT_UNIT_TESTS, "--vars", WARN_ON_COMPLETENESS, *arguments]
    if dbt(build, target) != 0:
        raise SystemExit(f"dbt build {' '.join(arguments)} failed")
    wall = time.perf_counter() - started
    results = json.loads(RUN_RESULTS_PATH.read_text())["results"]
    return wall, {result["unique_id"]: result["execution_time"] for result in results}


def marts_fingerprint(
    target: Connection, without_columns: tuple[str, ...] = ()
) -> dict[str, tuple]:
    """Each mart's row count and the md5 of its rows in a fixed order, `without_columns`."""
    with target.cursor() as cursor:
        cursor.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'marts' and table_type = 'BASE TABLE' order by table_name"
        )
        fingerprints = {}
        for (table,) in cursor.fetchall():
            cursor.execute(
                "select count(*), md5(string_agg(row, '|' order by row)) from"
                f' (select (to_jsonb(t) - %s::text[])::text as row from marts."{table}" as t)'
                " as rows",
                (list(without_columns),),
            )
            fingerprints[table] = cursor.fetchone()
        return fingerprints


def main() -> None:
    events = int(os.environ.get("BENCH_EVENTS", "1000000"))
    per_day = max(1, events // DAYS)
    active_users = max(1, per_day // EVENTS_PER_ACTIVE_USER)
    parameters = {
        "users": max(300, active_users * 10),
        "active_users": active_users,
        "events_per_active_user": EVENTS_PER_ACTIVE_USER,
        "per_day": per_day,
    }
    server = warehouse.connection()
    target = server.with_database(f"bench_incremental_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(target)
    try:
        if dbt(["seed", "--quiet"], target) != 0:  # its on-run-start creates the raw tables
            raise SystemExit("dbt seed failed")
        execute(target, PRODUCTION, parameters)
        execute(target, DAYS_OF_EVENTS, {**parameters, "first_day": 0, "last_day": DAYS - 1})
        timed_build(target, "--full-refresh")
        execute(target, DAYS_OF_EVENTS, {**parameters, "first_day": DAYS, "last_day": DAYS})
        incremental_wall, incremental_nodes = timed_build(target)
        incremental = marts_fingerprint(target)
        full_wall, full_nodes = timed_build(target, "--full-refresh")
        differing = sorted(
            mart
            for mart, rows in marts_fingerprint(target).items()
            if incremental.get(mart) != rows
        )
        if differing:
            raise SystemExit(f"the incremental build differs from the full one in {differing}")
    finally:
        warehouse.drop_database(target)
    chain = [node for node in full_nodes if node.rsplit(".", 1)[-1] in EVENT_CHAIN]
    measures = {
        "incremental_day_vs_full_build": {
            **_against(incremental_wall, full_wall),
            "baseline": f"dbt build --full-refresh of the same {DAYS + 1} days",
        },
        "incremental_day_event_chain_seconds": _against(
            sum(incremental_nodes[node] for node in chain), sum(full_nodes[node] for node in chain)
        ),
    }
    slowest = sorted(incremental_nodes, key=incremental_nodes.get, reverse=True)[:15]
    results = {
        "segment_events": per_day * (DAYS + 1),
        "days": DAYS + 1,
        "measures": measures,
        "slowest_incremental_nodes": {
            node: {
                "incremental": round(incremental_nodes[node], 2),
                "full": round(full_nodes.get(node, 0), 2),
            }
            for node in slowest
        },
    }
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(
        json.dumps(
            {
                **existing,
                "incremental_events": results,
                "measures": {**existing.get("measures", {}), **measures},
            },
            indent=2,
        )
        + "\n"
    )
    print(json.dumps(results, indent=2))


def _against(value: float, baseline: float) -> dict:
    return {
        "value": round(value, 2),
        "unit": "s",
        "baseline": "the same models in the full build",
        "baseline_value": round(baseline, 2),
        "ratio": round(value / baseline, 3),
    }


if __name__ == "__main__":
    main()
