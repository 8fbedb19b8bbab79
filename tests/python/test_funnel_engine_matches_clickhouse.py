"""The funnel engine against an independent implementation: ClickHouse's
`windowFunnel(window, 'strict_once')` (via chdb) on the same random events.

The events go straight into `intermediate.int_events_stitched_to_users` (the stitched events
the funnels read) of a fresh database and only the funnel models run, so the test exercises
the engine alone, on data built to hit its edge cases:
few event names, timestamps on a coarse grid (many ties), events placed exactly on and just
past window boundaries, events without an org, and funnels that repeat a step.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chdb
import pytest

from pipelines.transform import dbt
from pipelines.warehouse import Connection
from tests.python.funnel_events import UPSTREAM_MODELS, write_stitched_events

pytestmark = pytest.mark.integration

FUNNEL_MODELS = (
    f"{UPSTREAM_MODELS} int_funnel_events_matched_to_steps int_funnel_steps_reached "
    "fct_funnel_progress fct_funnel_steps rpt_funnel_conversion"
)
FUNNELS = [
    {
        "name": "activation",
        "entity": "user",
        "window_days": 2,
        "steps": ["User Signed Up", "Project Created", "Build Succeeded"],
    },
    {
        "name": "org_upgrade",
        "entity": "org",
        "window_days": 3,
        "steps": ["Organization Created", "Build Succeeded", "Plan Page Viewed", "Plan Upgraded"],
    },
    {
        "name": "upgrade_intent",
        "entity": "user",
        "window_days": 1,
        "steps": ["Plan Page Viewed", "Plan Upgrade Clicked"],
    },
    {
        "name": "second_build",
        "entity": "org",
        "window_days": 1,
        "steps": ["Build Succeeded", "Plan Page Viewed", "Build Succeeded"],
    },
    {
        "name": "build_twice",
        "entity": "user",
        "window_days": 1,
        "steps": ["Build Succeeded", "Build Succeeded"],
    },
]
EVENT_NAMES = sorted({step for funnel in FUNNELS for step in funnel["steps"]} | {"Noise"})
START = datetime(2024, 1, 1, tzinfo=UTC)
GRID_SECONDS = 6 * 3600
DAY_SECONDS = 86400


def random_events(seed: int, users: int, orgs: int) -> list[dict]:
    """Events on a coarse time grid (ties), plus events exactly on and one second past the
    window of an earlier event (boundaries); some users' events carry no org."""
    rng = random.Random(seed)
    events: list[dict] = []
    for user_number in range(users):
        user_id = str(user_number)
        member_orgs = [str(rng.randrange(orgs)) for _ in range(rng.choice([1, 1, 2]))]
        user_events = []
        for _ in range(rng.randint(1, 12)):
            second = rng.randrange(0, 12 * DAY_SECONDS)
            if rng.random() < 0.7:
                second -= second % GRID_SECONDS
            user_events.append((rng.choice(EVENT_NAMES), second))
        for _name, second in list(user_events):
            if rng.random() < 0.2:
                window = rng.choice([1, 2, 3]) * DAY_SECONDS
                user_events.append((rng.choice(EVENT_NAMES), second + window + rng.choice([0, 1])))
        for name, second in user_events:
            events.append(
                {
                    "event_id": f"e{len(events)}",
                    "event_name": name,
                    "occurred_at": START + timedelta(seconds=second),
                    "user_id": user_id,
                    "org_id": None if rng.random() < 0.15 else rng.choice(member_orgs),
                }
            )
    return events


def clickhouse_furthest_steps(events: list[dict], funnel: dict, work_dir: Path) -> dict:
    """{entity_id: furthest step} from chdb's windowFunnel(window, 'strict_once'); timestamps
    are whole seconds, the window is in seconds and ClickHouse includes its boundary."""
    entity_key = "user_id" if funnel["entity"] == "user" else "org_id"
    events_file = work_dir / f"{funnel['name']}.csv"
    with events_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entity_id", "event_name", "epoch_seconds"])
        for event in events:
            if event[entity_key] is not None:
                epoch_seconds = int(event["occurred_at"].timestamp())
                writer.writerow([event[entity_key], event["event_name"], epoch_seconds])
    conditions = ", ".join(
        "event_name = '{}'".format(step.replace("'", "\\'")) for step in funnel["steps"]
    )
    window_seconds = funnel["window_days"] * DAY_SECONDS
    result = chdb.query(
        f"""
        select entity_id, furthest_step from (
            select
                entity_id,
                windowFunnel({window_seconds}, 'strict_once')(epoch_seconds, {conditions})
                    as furthest_step
            from file('{events_file}', 'CSVWithNames',
                      'entity_id String, event_name String, epoch_seconds UInt64')
            group by entity_id
        )
        where furthest_step >= 1
        """,
        "JSONCompact",
    )
    return {
        entity_id: furthest_step for entity_id, furthest_step in json.loads(result.data())["data"]
    }


@pytest.fixture(scope="module")
def funnel_warehouse(test_warehouse: Connection) -> tuple[Connection, list[dict]]:
    events = random_events(seed=20240101, users=600, orgs=200)
    write_stitched_events(test_warehouse, events)
    dbt_vars = json.dumps({"funnels": FUNNELS})
    assert dbt(["run", "--select", FUNNEL_MODELS, "--vars", dbt_vars], test_warehouse) == 0
    return test_warehouse, events


def query(target: Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.parametrize("funnel", FUNNELS, ids=[funnel["name"] for funnel in FUNNELS])
def test_every_entitys_furthest_step_equals_clickhouse_window_funnel(
    funnel_warehouse, funnel, tmp_path
):
    target, events = funnel_warehouse
    expected = clickhouse_furthest_steps(events, funnel, tmp_path)

    rows = query(
        target,
        "select entity_id, furthest_step from marts.fct_funnel_progress"
        f" where funnel_name = '{funnel['name']}'",
    )

    assert dict(rows) == expected
    assert len(set(expected.values())) == len(funnel["steps"]), "data must reach every step"


@pytest.mark.parametrize("funnel", FUNNELS, ids=[funnel["name"] for funnel in FUNNELS])
def test_best_attempt_is_a_valid_path_to_the_furthest_step(funnel_warehouse, funnel):
    """Each entity's steps are reached in order, within the window of its step 1, each at a
    timestamp holding enough events of that name that no event fills two steps."""
    target, events = funnel_warehouse
    entity_key = "user_id" if funnel["entity"] == "user" else "org_id"
    events_at = Counter(
        (event[entity_key], event["event_name"], event["occurred_at"])
        for event in events
        if event[entity_key] is not None
    )
    progress = dict(
        query(
            target,
            "select entity_id, furthest_step from marts.fct_funnel_progress"
            f" where funnel_name = '{funnel['name']}'",
        )
    )
    paths: dict[str, list[tuple[int, str, datetime]]] = defaultdict(list)
    for entity_id, step_number, step_name, reached_at in query(
        target,
        "select entity_id, step_number, step_name, reached_at from marts.fct_funnel_steps"
        f" where funnel_name = '{funnel['name']}' order by entity_id, step_number",
    ):
        paths[entity_id].append((step_number, step_name, reached_at))

    assert paths.keys() == progress.keys()
    window = timedelta(days=funnel["window_days"])
    for entity_id, path in paths.items():
        assert [step_number for step_number, _, _ in path] == list(
            range(1, progress[entity_id] + 1)
        )
        assert [step_name for _, step_name, _ in path] == funnel["steps"][: len(path)]
        times = [reached_at for _, _, reached_at in path]
        assert times == sorted(times)
        assert times[-1] - times[0] <= window
        used = Counter((step_name, reached_at) for _, step_name, reached_at in path)
        for (step_name, reached_at), count in used.items():
            assert events_at[(entity_id, step_name, reached_at)] >= count


def test_entered_at_is_the_first_step_one_event(funnel_warehouse):
    target, events = funnel_warehouse
    first_signup: dict[str, datetime] = {}
    for event in events:
        if event["event_name"] == "User Signed Up":
            user_id = event["user_id"]
            first_signup[user_id] = min(
                first_signup.get(user_id, event["occurred_at"]), event["occurred_at"]
            )

    rows = query(
        target,
        "select entity_id, entered_at from marts.fct_funnel_progress"
        " where funnel_name = 'activation'",
    )

    assert dict(rows) == first_signup


def test_conversion_report_counts_each_cohorts_entities_per_step(funnel_warehouse):
    target, _ = funnel_warehouse

    report = query(
        target,
        "select cohort_week, step_number, entities from marts.rpt_funnel_conversion"
        " where funnel_name = 'org_upgrade'",
    )
    from_progress = query(
        target,
        """
        select cast(date_trunc('week', entered_at) as date), steps.step_number, count(*)
        from marts.fct_funnel_progress
        cross join generate_series(1, 4) as steps (step_number)
        where funnel_name = 'org_upgrade' and furthest_step >= steps.step_number
        group by 1, 2
        """,
    )

    reached = {(week, step): entities for week, step, entities in from_progress}
    assert {(week, step): entities for week, step, entities in report if entities} == reached
    assert len(report) == 4 * len({week for week, _, _ in report})
