"""The brute-force funnel reference follows contract §7: it agrees with ClickHouse's
windowFunnel(window, 'strict_once') (chdb) wherever that applies, and does what the contract
says for exclusions and hold_constant, on examples written by hand."""

from __future__ import annotations

import json
import random

import chdb
import pytest

from tests.python.funnel_reference import Event, Result, furthest_steps

STEPS = ["a", "b", "c"]


def funnel(**options) -> dict:
    return {"name": "f", "entity": "user", "window_days": 1, "steps": STEPS, **options}


def result(events: list[tuple[int, str] | tuple[int, str, dict]], **options) -> int:
    """The furthest step of one entity with these (time, name[, properties]) events."""
    entity_events = [Event("u", event[1], event[0], *event[2:]) for event in events]
    results = furthest_steps(entity_events, funnel(**options), window=10)
    return results["u"].furthest_step if "u" in results else 0


def test_reference_equals_clickhouse_window_funnel_on_random_events():
    rng = random.Random(13)
    funnels = [["a", "b", "c"], ["a", "b", "a"], ["a", "a"], ["b", "a", "c", "b"]]
    for steps in funnels:
        events = [
            Event(str(entity), rng.choice("abcx"), rng.randrange(40))
            for entity in range(250)
            for _ in range(rng.randrange(1, 11))
        ]
        expected = furthest_steps(events, {"steps": steps}, window=12)
        values = ",".join(f"('{e.entity_id}', {e.at}, '{e.event_name}')" for e in events)
        conditions = ", ".join(f"e = '{step}'" for step in steps)
        answer = chdb.query(
            f"""
            select entity, step from (
                select entity, windowFunnel(12, 'strict_once')(t, {conditions}) as step
                from values('entity String, t UInt64, e String', {values})
                group by entity
            ) where step >= 1
            """,
            "JSONCompact",
        )
        clickhouse = dict(json.loads(answer.data())["data"])

        assert {entity: r.furthest_step for entity, r in expected.items()} == clickhouse
        assert len(set(clickhouse.values())) == len(steps), f"{steps} reaches every step"


def test_entered_at_is_the_first_step_one_event_even_when_a_later_attempt_gets_further():
    events = [Event("u", "a", 0), Event("u", "a", 20), Event("u", "b", 21)]

    assert furthest_steps(events, funnel(), window=10) == {"u": Result(0, 2)}


EXCLUDE_X = [{"event": "x", "after_step": 1, "before_step": 3}]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([(0, "a"), (1, "b"), (2, "c")], 3),
        ([(0, "a"), (1, "x"), (2, "b"), (3, "c")], 1),
        ([(0, "a"), (1, "b"), (2, "x"), (3, "c")], 1),
        ([(0, "a"), (0, "x"), (1, "b"), (2, "c")], 3),
        ([(0, "a"), (1, "b"), (2, "c"), (2, "x")], 3),
        ([(0, "a"), (1, "b"), (2, "c"), (3, "x")], 3),
        ([(0, "a"), (1, "b"), (50, "x")], 1),
        ([(0, "a"), (1, "x"), (2, "a"), (3, "b"), (4, "c")], 3),
        ([(0, "a"), (1, "x"), (2, "a"), (3, "b")], 2),
    ],
    ids=[
        "no excluded event",
        "excluded between steps 1 and 2",
        "excluded between steps 2 and 3",
        "same instant as step 1 does not exclude",
        "same instant as step 3 does not exclude",
        "after the attempt reached step 3",
        "an attempt short of step 3 ends at step 1 whenever it comes",
        "a later attempt after the excluded event converts",
        "a later attempt after the excluded event gets to step 2",
    ],
)
def test_an_exclusion_ends_an_attempt_at_after_step(events, expected):
    assert result(events, exclusions=EXCLUDE_X) == expected


def test_an_exclusion_between_later_steps_keeps_the_earlier_ones():
    exclusions = [{"event": "x", "after_step": 2, "before_step": 3}]

    assert result([(0, "a"), (1, "x"), (2, "b"), (3, "c")], exclusions=exclusions) == 3
    assert result([(0, "a"), (1, "b"), (2, "x"), (3, "c")], exclusions=exclusions) == 2


def test_a_second_step_two_after_the_excluded_event_restarts_the_exclusions_range():
    exclusions = [{"event": "x", "after_step": 2, "before_step": 3}]
    events = [(0, "a"), (1, "b"), (2, "x"), (3, "b"), (4, "c")]

    assert result(events, exclusions=exclusions) == 3


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([(0, "a", {"p": 1}), (1, "b", {"p": 1}), (2, "c", {"p": 1})], 3),
        ([(0, "a", {"p": 1}), (1, "b", {"p": 2}), (2, "c", {"p": 1})], 1),
        ([(0, "a", {"p": 1}), (1, "b", {"p": 2}), (2, "a", {"p": 2}), (3, "b", {"p": 2})], 2),
        ([(0, "a", {"p": 1}), (1, "b", {}), (2, "c", {"p": 1})], 1),
        ([(0, "a", {"p": 1}), (1, "b", {"p": None}), (2, "c", {"p": 1})], 1),
        ([(0, "a", {"p": "1"}), (1, "b", {"p": 1})], 2),
        ([(0, "a", {"p": ""}), (1, "b", {"p": ""})], 2),
        ([(0, "a", {}), (1, "b", {"p": 1})], 0),
    ],
    ids=[
        "one value throughout",
        "a step of another value does not count",
        "the furthest over values",
        "a missing value cannot fill a step",
        "a null value cannot fill a step",
        "values compare as text",
        "an empty string is a value",
        "never entered with a value",
    ],
)
def test_hold_constant_runs_the_funnel_per_value(events, expected):
    assert result(events, hold_constant=["p"]) == expected


def test_hold_constant_of_two_properties_needs_both():
    events = [(0, "a", {"p": 1, "q": 1}), (1, "b", {"p": 1, "q": 2}), (2, "b", {"p": 1, "q": 1})]

    assert result(events, hold_constant=["p", "q"]) == 2
    assert result(events[:2], hold_constant=["p", "q"]) == 1


def test_an_excluded_event_without_the_held_value_ends_every_value_one_with_another_none():
    events = [(0, "a", {"p": 1}), (1, "b", {"p": 1}), (3, "c", {"p": 1})]
    options = {"hold_constant": ["p"], "exclusions": EXCLUDE_X}

    assert result([*events, (2, "x", {})], **options) == 1
    assert result([*events, (2, "x", {"p": 1})], **options) == 1
    assert result([*events, (2, "x", {"p": 2})], **options) == 3


def test_entered_at_with_hold_constant_is_the_first_step_one_event_holding_a_value():
    events = [Event("u", "a", 0), Event("u", "a", 5, {"p": 1})]

    assert furthest_steps(events, funnel(hold_constant=["p"]), window=10) == {"u": Result(5, 1)}
