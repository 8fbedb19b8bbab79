"""The funnel engine with every option (exclusions, hold_constant, breakdown_attribution)
against the brute-force reference of contract §7 (`funnel_reference`), entity by entity.

Random events go straight into the stitched events of a fresh database and only the funnel
models run. The events are built to hit the edge cases: timestamps on a coarse grid (ties),
events exactly on and one second past a window boundary, excluded events at the same instant
as a step, held properties missing, null, empty or of another value, events without an org.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.transform import dbt
from pipelines.warehouse import Connection
from tests.python.funnel_events import UPSTREAM_MODELS, write_stitched_events
from tests.python.funnel_reference import Event, chain_worth, furthest_steps, held_value

pytestmark = pytest.mark.integration

FUNNEL_MODELS = (
    f"{UPSTREAM_MODELS} int_funnel_events_matched_to_steps int_funnel_steps_reached"
    " fct_funnel_progress fct_funnel_steps"
)
FUNNELS = [
    {
        "name": "plain",
        "entity": "user",
        "window_days": 2,
        "steps": ["User Signed Up", "Project Created", "Build Succeeded"],
    },
    {
        "name": "excluded_failure",
        "entity": "user",
        "window_days": 2,
        "steps": ["User Signed Up", "Project Created", "Build Succeeded"],
        "exclusions": [{"event": "Build Failed", "after_step": 1, "before_step": 3}],
    },
    {
        "name": "two_exclusions_org",
        "entity": "org",
        "window_days": 3,
        "steps": ["Organization Created", "Build Succeeded", "Plan Page Viewed", "Plan Upgraded"],
        "exclusions": [
            {"event": "Build Failed", "after_step": 1, "before_step": 2},
            {"event": "Subscription Cancelled", "after_step": 2, "before_step": 4},
        ],
    },
    {
        "name": "same_project_twice",
        "entity": "user",
        "window_days": 1,
        "steps": ["Project Created", "Build Succeeded", "Build Succeeded"],
        "hold_constant": ["project_id"],
    },
    {
        "name": "same_project_and_branch_org",
        "entity": "org",
        "window_days": 1,
        "steps": ["Build Started", "Build Succeeded"],
        "hold_constant": ["project_id", "branch"],
        "breakdown_attribution": "step_2",
    },
    {
        "name": "held_and_excluded",
        "entity": "user",
        "window_days": 2,
        "steps": ["Project Created", "Build Started", "Build Succeeded"],
        "exclusions": [{"event": "Build Failed", "after_step": 2, "before_step": 3}],
        "hold_constant": ["project_id"],
        "breakdown_attribution": "step_2",
    },
    {
        "name": "repeated_step_excluded",
        "entity": "user",
        "window_days": 1,
        "steps": ["Plan Page Viewed", "Plan Page Viewed", "Plan Upgrade Clicked"],
        "exclusions": [{"event": "Dashboard Viewed", "after_step": 2, "before_step": 3}],
        "breakdown_attribution": "first_touch",
    },
    {
        "name": "nested_exclusions_org_held",
        "entity": "org",
        "window_days": 2,
        "steps": ["Build Started", "Build Succeeded", "Plan Page Viewed"],
        "exclusions": [
            {"event": "Build Failed", "after_step": 1, "before_step": 3},
            {"event": "Dashboard Viewed", "after_step": 2, "before_step": 3},
            {"event": "Build Failed", "after_step": 1, "before_step": 2},
        ],
        "hold_constant": ["project_id"],
    },
]
EVENT_NAMES = sorted(
    {step for funnel in FUNNELS for step in funnel["steps"]}
    | {e["event"] for funnel in FUNNELS for e in funnel.get("exclusions", [])}
    | {"Noise"}
)
EXCLUDED_NAMES = sorted({e["event"] for f in FUNNELS for e in f.get("exclusions", [])})
START = datetime(2024, 1, 1, tzinfo=UTC)
GRID_SECONDS = 6 * 3600
DAY_SECONDS = 86400


def random_properties(rng: random.Random, projects: list) -> dict:
    """A user's events mostly name one or two of its projects; some lack a value."""
    properties: dict = {}
    for name, values in (("project_id", projects), ("branch", ["main", "dev"])):
        draw = rng.random()
        if draw < 0.12:
            continue  # missing
        properties[name] = None if draw < 0.17 else rng.choice(values)
    return properties


def random_events(seed: int, users: int, orgs: int) -> list[dict]:
    rng = random.Random(seed)
    events: list[dict] = []
    for user_number in range(users):
        member_orgs = [str(rng.randrange(orgs)) for _ in range(rng.choice([1, 1, 2]))]
        projects = rng.sample(["p1", "p2", 3, ""], rng.choice([1, 2]))
        user_events = []
        for _ in range(rng.randint(2, 16)):
            second = rng.randrange(0, 6 * DAY_SECONDS)
            if rng.random() < 0.7:
                second -= second % GRID_SECONDS
            user_events.append((rng.choice(EVENT_NAMES), second))
        for _name, second in list(user_events):
            draw = rng.random()
            if draw < 0.15:  # on or one second past a window boundary
                window = rng.choice([1, 2, 3]) * DAY_SECONDS
                user_events.append((rng.choice(EVENT_NAMES), second + window + rng.choice([0, 1])))
            elif draw < 0.3:  # an excluded event at the same instant
                user_events.append((rng.choice(EXCLUDED_NAMES), second))
        for name, second in user_events:
            events.append(
                {
                    "event_id": f"e{len(events)}",
                    "event_name": name,
                    "occurred_at": START + timedelta(seconds=second),
                    "user_id": str(user_number),
                    "org_id": None if rng.random() < 0.15 else rng.choice(member_orgs),
                    "properties": random_properties(rng, projects),
                }
            )
    return events


def microseconds(at: datetime) -> int:
    return (at - START) // timedelta(microseconds=1)


def reference_events(events: list[dict], funnel: dict) -> list[Event]:
    entity_key = "user_id" if funnel["entity"] == "user" else "org_id"
    return [
        Event(
            event[entity_key],
            event["event_name"],
            microseconds(event["occurred_at"]),
            event["properties"],
        )
        for event in events
        if event[entity_key] is not None
    ]


def window(funnel: dict) -> int:
    return funnel["window_days"] * DAY_SECONDS * 1_000_000


@pytest.fixture(scope="module")
def funnel_warehouse(test_warehouse: Connection) -> tuple[Connection, list[dict]]:
    events = random_events(seed=7, users=500, orgs=150)
    write_stitched_events(test_warehouse, events)
    dbt_vars = json.dumps({"funnels": FUNNELS})
    assert dbt(["run", "--select", FUNNEL_MODELS, "--vars", dbt_vars], test_warehouse) == 0
    return test_warehouse, events


def query(target: Connection, sql: str, parameters: tuple = ()) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchall()


@pytest.mark.parametrize("funnel", FUNNELS, ids=[funnel["name"] for funnel in FUNNELS])
def test_every_entitys_entry_and_furthest_step_equal_the_reference(funnel_warehouse, funnel):
    target, events = funnel_warehouse
    expected = {
        entity_id: (result.entered_at, result.furthest_step)
        for entity_id, result in furthest_steps(
            reference_events(events, funnel), funnel, window(funnel)
        ).items()
    }

    rows = query(
        target,
        "select entity_id, entered_at, furthest_step from marts.fct_funnel_progress"
        " where funnel_name = %s",
        (funnel["name"],),
    )

    actual = {entity_id: (microseconds(at), step) for entity_id, at, step in rows}
    assert actual == expected
    assert len({step for _, step in expected.values()}) == len(funnel["steps"]), (
        "the data must reach every step"
    )


@pytest.mark.parametrize("funnel", FUNNELS, ids=[funnel["name"] for funnel in FUNNELS])
def test_each_entitys_steps_are_an_attempt_worth_its_furthest_step(funnel_warehouse, funnel):
    """The steps shown are a chain of distinct events of one held value, in order, within
    the window, and the exclusions leave it worth the furthest step."""
    target, events = funnel_warehouse
    properties = funnel.get("hold_constant", [])
    by_entity: dict[str, list[Event]] = defaultdict(list)
    for event in reference_events(events, funnel):
        by_entity[event.entity_id].append(event)
    paths: dict[str, list[int]] = defaultdict(list)
    for entity_id, reached_at in query(
        target,
        "select entity_id, reached_at from marts.fct_funnel_steps where funnel_name = %s"
        " order by entity_id, step_number",
        (funnel["name"],),
    ):
        paths[entity_id].append(microseconds(reached_at))

    for entity_id, times in paths.items():
        assert times == sorted(times) and times[-1] - times[0] <= window(funnel)
        candidates = [
            value
            for value in {held_value(event, properties) for event in by_entity[entity_id]}
            if value is not None or not properties
        ]
        assert any(
            chain_fits(by_entity[entity_id], funnel, times, value)
            for value in (candidates if properties else [()])
        ), entity_id


def chain_fits(events: list[Event], funnel: dict, times: list[int], value: tuple) -> bool:
    properties = funnel.get("hold_constant", [])
    fillable = [
        event for event in events if not properties or held_value(event, properties) == value
    ]
    used: dict[tuple[str, int], int] = defaultdict(int)
    for step, at in zip(funnel["steps"], times, strict=False):
        used[(step, at)] += 1
    for (step, at), count in used.items():
        if sum(1 for e in fillable if e.event_name == step and e.at == at) < count:
            return False
    excluded = [
        event
        for event in events
        if not properties or held_value(event, properties) in (value, None)
    ]
    return chain_worth(times, excluded, funnel) == len(times)
