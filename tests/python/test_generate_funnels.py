"""The truth manifest's funnel implementation follows contract §7 and agrees with
ClickHouse's windowFunnel(window, 'strict_once') (chdb) on random event sequences."""

from __future__ import annotations

import random

import chdb
import pytest

from pipelines.generate.funnels import furthest_step

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
