"""Funnel truth: contract §7 written the plain way, to check the SQL funnel engine against.

For one entity: every step-1 event starts an attempt; each later step takes the earliest
unused event of that step at or after the previous step's event and within the window of
the attempt's step-1 event (inclusive); the entity's result is the furthest step over all
attempts, and it entered at its first step-1 event.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence

from pipelines.generate.catalog import Funnel
from pipelines.generate.timestamps import DAY_US

_NAME_BITS = 4  # an event is stored as time << _NAME_BITS | step-name index


def furthest_step(events: Sequence[tuple[int, str]], steps: Sequence[str], window: int) -> int:
    """The furthest step (1-based; 0 if never entered) over all attempts of one entity."""
    ordered = sorted(events)
    furthest = 0
    for start_index, (started_at, name) in enumerate(ordered):
        if name != steps[0]:
            continue
        used = {start_index}
        previous_at = started_at
        reached = 1
        for step in steps[1:]:
            match = next(
                (
                    index
                    for index, (at, candidate) in enumerate(ordered)
                    if candidate == step
                    and index not in used
                    and previous_at <= at <= started_at + window
                ),
                None,
            )
            if match is None:
                break
            used.add(match)
            previous_at = ordered[match][0]
            reached += 1
        furthest = max(furthest, reached)
    return furthest


class FunnelRecorder:
    """Keeps, per entity, only the step events some attempt's window can still use.

    Events come a day at a time; at the end of a day an event is kept when it is a step-1
    event or falls within the window of an earlier step-1 event of its entity, so memory
    holds the events inside open windows (8 bytes each), not the whole history.
    """

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.window = funnel.window_days * DAY_US
        self.names = list(dict.fromkeys(funnel.steps))
        self._index = {name: index for index, name in enumerate(self.names)}
        self._kept: dict[str, array] = {}
        self._last_start: dict[str, int] = {}
        self._today: list[tuple[int, int, str]] = []

    def wants(self, name: str) -> bool:
        return name in self._index

    def add(self, entity: str, at: int, name: str) -> None:
        self._today.append((at, self._index[name], entity))

    def end_day(self, day_end: int) -> None:
        """File the day's events (those after `day_end` wait for the next day)."""
        start_index = self._index[self.funnel.steps[0]]
        done = sorted(
            (event for event in self._today if event[0] < day_end),
            key=lambda event: (event[0], event[1] != start_index),
        )
        self._today = [event for event in self._today if event[0] >= day_end]
        for at, index, entity in done:
            if index == start_index:
                self._last_start[entity] = at
            elif self._last_start.get(entity, -1 - self.window) < at - self.window:
                continue
            self._kept.setdefault(entity, array("q")).append(at << _NAME_BITS | index)

    def entities_by_furthest_step(self) -> dict[str, int]:
        self.end_day(1 << 62)
        mask = (1 << _NAME_BITS) - 1
        counts: Counter[int] = Counter()
        for stored in self._kept.values():
            events = [(value >> _NAME_BITS, self.names[value & mask]) for value in stored]
            counts[furthest_step(events, self.funnel.steps, self.window)] += 1
        return {str(step): counts[step] for step in range(1, len(self.funnel.steps) + 1)}
