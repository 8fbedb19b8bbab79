"""The truth manifest's funnel implementation follows contract §7 and agrees with
ClickHouse's windowFunnel(window, 'strict_once') (chdb) on random event sequences; the
day-by-day recorder gets the same results while holding only entities with open windows."""

from __future__ import annotations

import random

import chdb
import pytest

from pipelines.generate.catalog import Funnel
from pipelines.generate.funnels import FunnelRecorder, furthest_step
from pipelines.generate.timestamps import DAY_US, HOUR_US

STEPS = ("a", "b", "c")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], 0),
        ([(5, "b"), (6, "c")], 0),
        ([(0, "a"), (10, "b"), (10, "c")], 3),
        ([(0, "a"), (10, "b"), (11, "c")], 2),
        ([(0, "a"), (5, "c"), (6, "b")], 2),
        ([(0, "a"), (8, "b"), (9, "a"), (15, "b"), (19, "c")], 3),
        ([(3, "a"), (3, "b"), (3, "c")], 3),
    ],
    ids=[
        "no events",
        "never entered",
        "window boundary is inclusive",
        "one past the window",
        "steps out of order",
        "a later attempt gets further",
        "equal timestamps count as at or after",
    ],
)
def test_furthest_step_follows_contract_semantics(events, expected):
    assert furthest_step(events, STEPS, window=10) == expected


def test_one_event_fills_at_most_one_step():
    steps = ("a", "b", "b")

    assert furthest_step([(0, "a"), (1, "b")], steps, window=10) == 2
    assert furthest_step([(0, "a"), (1, "b"), (2, "b")], steps, window=10) == 3


def test_furthest_step_matches_clickhouse_window_funnel_strict_once():
    rng = random.Random(3)
    rows = []
    expected = {}
    for entity in range(300):
        # Whole-second times on a short range, so ties and window edges happen often.
        events = [(rng.randrange(60), rng.choice("abcx")) for _ in range(rng.randrange(1, 9))]
        rows += [(entity, at, name) for at, name in events]
        expected[entity] = furthest_step(events, STEPS, window=15)
    values = ",".join(f"({entity},{at},'{name}')" for entity, at, name in rows)
    query = f"""
        select entity, windowFunnel(15, 'strict_once')(t, e = 'a', e = 'b', e = 'c')
        from values('entity UInt32, t UInt64, e String', {values})
        group by entity
    """

    result = chdb.query(query, "CSV")

    actual = {
        int(entity): int(level)
        for entity, level in (line.split(",") for line in str(result).strip().splitlines())
    }
    assert actual == expected


@pytest.mark.parametrize(
    "steps",
    [("a", "b", "c"), ("a", "b", "b"), ("a", "b", "c", "x")],
    ids=["distinct steps", "a repeated step", "four steps"],
)
def test_recorder_fed_day_by_day_equals_furthest_step_over_whole_histories(steps):
    funnel = Funnel("test", "user", 2, steps)
    recorder = FunnelRecorder(funnel)
    rng = random.Random(8)
    days = 40
    histories: dict[int, list[tuple[int, str]]] = {}
    open_at_the_end_of_a_day = []
    for day in range(days):
        for entity in rng.sample(range(1, 400), 30):
            for _ in range(rng.randint(1, 6)):
                # Whole hours: ties, and attempts straddling midnight and window edges.
                at = day * DAY_US + rng.randrange(24) * HOUR_US
                name = rng.choice("abcx")
                histories.setdefault(entity, []).append((at, name))
                if recorder.wants(name):
                    recorder.add(entity, at, name)
        recorder.end_day((day + 1) * DAY_US)
        open_at_the_end_of_a_day.append(recorder.open_entities)

    expected: dict[str, int] = {str(step): 0 for step in range(1, len(steps) + 1)}
    for events in histories.values():
        reached = furthest_step(events, steps, window=2 * DAY_US)
        if reached:
            expected[str(reached)] += 1
    assert expected["3"] > 20  # deep enough to exercise every step
    assert recorder.entities_by_furthest_step() == expected
    # 30 entities a day with windows of 2 days, settled 2 days after closing: never all 399.
    assert max(open_at_the_end_of_a_day) < 200
    assert recorder.open_entities == 0
