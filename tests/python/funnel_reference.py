"""Contract §7 by brute force: every attempt of every entity enumerated, to test the SQL
funnel engine against where ClickHouse's windowFunnel does not apply (exclusions,
hold_constant).

An attempt is a chain of distinct events filling steps 1..k in order, each at or after the
previous one and within the window of the first (boundary included). Every chain and every
prefix of a chain is enumerated; a chain is worth k, unless an exclusion (X, a, b) ends it at
step a: an X event strictly after its step-a event and, when the chain reaches step b,
strictly before its step-b event (a chain that stops short of b is ended by any later X);
the chain so ended is checked again against the other exclusions.
With hold_constant the funnel runs once per value of the properties (an event missing one
cannot fill a step; an excluded event without them counts for every value); the entity's
result is the furthest over all chains and values, and it entered at its first step-1 event
that can fill step 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    entity_id: str
    event_name: str
    at: int  # whole microseconds, or any integer time unit the window uses
    properties: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Result:
    entered_at: int
    furthest_step: int


def property_text(value: object) -> str | None:
    """A JSON value as PostgreSQL's `->>` renders it (null: None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def held_value(event: Event, properties: Sequence[str]) -> tuple[str, ...] | None:
    values = tuple(property_text(event.properties.get(name)) for name in properties)
    return None if any(value is None for value in values) else values


def furthest_steps(events: Iterable[Event], funnel: dict, window: int) -> dict[str, Result]:
    """{entity_id: Result} for the entities that entered the funnel."""
    by_entity: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_entity[event.entity_id].append(event)
    results = {}
    for entity_id, entity_events in by_entity.items():
        result = entity_result(entity_events, funnel, window)
        if result is not None:
            results[entity_id] = result
    return results


def entity_result(events: list[Event], funnel: dict, window: int) -> Result | None:
    steps = funnel["steps"]
    exclusions = funnel.get("exclusions", [])
    properties = funnel.get("hold_constant", [])
    excluded_names = {exclusion["event"] for exclusion in exclusions}
    step_events = [event for event in events if event.event_name in steps]
    values = (
        {held_value(event, properties) for event in step_events} - {None} if properties else {()}
    )
    entered_at = None
    furthest = 0
    for value in values:
        fillable = [event for event in step_events if held_value(event, properties) == value]
        excluded = [
            event
            for event in events
            if event.event_name in excluded_names and held_value(event, properties) in (value, None)
        ]
        starts = [event.at for event in fillable if event.event_name == steps[0]]
        if starts:
            entered_at = min(starts) if entered_at is None else min(entered_at, *starts)
        furthest = max(furthest, best_chain(fillable, excluded, funnel, window))
    if entered_at is None:
        return None
    return Result(entered_at, furthest)


def best_chain(fillable: list[Event], excluded: list[Event], funnel: dict, window: int) -> int:
    steps = funnel["steps"]
    best = 0

    def extend(chain: list[int]) -> None:
        nonlocal best
        best = max(best, chain_worth([fillable[index].at for index in chain], excluded, funnel))
        if len(chain) == len(steps):
            return
        start_at = fillable[chain[0]].at
        previous_at = fillable[chain[-1]].at
        for index, event in enumerate(fillable):
            if (
                index not in chain
                and event.event_name == steps[len(chain)]
                and previous_at <= event.at <= start_at + window
            ):
                extend([*chain, index])

    for index, event in enumerate(fillable):
        if event.event_name == steps[0]:
            extend([index])
    return best


def chain_worth(times: list[int], excluded: list[Event], funnel: dict) -> int:
    """The step a chain reaching len(times) steps is worth: each exclusion it meets ends it
    at that exclusion's after_step, and the chain so ended is checked again (it may now stop
    short of another exclusion's before_step), until no exclusion ends it."""
    reached = len(times)
    while True:
        ended_at = [
            exclusion["after_step"]
            for exclusion in funnel.get("exclusions", [])
            if exclusion["after_step"] < reached and meets(times[:reached], excluded, exclusion)
        ]
        if not ended_at:
            return reached
        reached = min(ended_at)


def meets(times: list[int], excluded: list[Event], exclusion: dict) -> bool:
    after_at = times[exclusion["after_step"] - 1]
    before_step = exclusion["before_step"]
    before_at = times[before_step - 1] if len(times) >= before_step else None
    return any(
        event.event_name == exclusion["event"]
        and after_at < event.at
        and (before_at is None or event.at < before_at)
        for event in excluded
    )
