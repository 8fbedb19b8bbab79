"""Funnel truth: contract §7 written the plain way, to check the SQL funnel engine against.

For one entity: every step-1 event starts an attempt; each later step takes the earliest
unused event of that step at or after the previous step's event and within the window of
the attempt's step-1 event (inclusive); the entity's result is the furthest step over all
attempts, and it entered at its first step-1 event.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from pipelines.generate.catalog import Funnel
from pipelines.generate.timestamps import DAY_US

_NAME_BITS = 4  # an event is stored as time << _NAME_BITS | step-name index
_ENTITY_BITS = 32  # entity ids are below 2**32
# An event can reach the recorder up to a few hours after its day ended (a session running
# past midnight, an upgrade's billing signup placed before it); two days is a safe margin.
SETTLE_DELAY = 2 * DAY_US
END_OF_TIME = 1 << 62


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
    """Keeps, per entity, only the step events an attempt can still use, and settles each
    entity once its windows have closed.

    Events come a day at a time; at the end of a day an event is kept when it is a step-1
    event, or falls within the window of an earlier step-1 event of its entity and (when
    the steps are distinct) is the first of its step since the last kept event of the step
    before: an attempt takes the earliest such event, so later ones can never count. When
    an entity's last window has closed, no later event can reach its attempts (and later
    attempts only use later events), so its furthest step is stored in one byte and its
    events are dropped: memory holds a few events per entity with an open window.
    """

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.window = funnel.window_days * DAY_US
        self.names = list(dict.fromkeys(funnel.steps))  # index 0 is step 1
        self._index = {name: index for index, name in enumerate(self.names)}
        self._distinct_steps = len(self.names) == len(funnel.steps)
        self._open: dict[int, array] = {}
        self._last_start: dict[int, int] = {}
        self._settled = bytearray()  # entity id -> furthest step of its settled attempts
        self._today: list[int] = []  # (time << _NAME_BITS | index) << _ENTITY_BITS | entity

    def wants(self, name: str) -> bool:
        return name in self._index

    def add(self, entity: int, at: int, name: str) -> None:
        self._today.append((at << _NAME_BITS | self._index[name]) << _ENTITY_BITS | entity)

    def end_day(self, day_end: int) -> None:
        """File the day's events in time order, step 1 first at equal times (those after
        `day_end` wait for the next day)."""
        self._today.sort()
        due = bisect_left(self._today, day_end << (_NAME_BITS + _ENTITY_BITS))
        done, self._today = self._today[:due], self._today[due:]
        entity_mask, name_mask = (1 << _ENTITY_BITS) - 1, (1 << _NAME_BITS) - 1
        for packed in done:
            entity, event = packed & entity_mask, packed >> _ENTITY_BITS
            at, index = event >> _NAME_BITS, event & name_mask
            if index == 0:
                self._last_start[entity] = at
            elif not self._can_count(entity, at, index):
                continue
            self._open.setdefault(entity, array("q")).append(event)
        self._settle(windows_closed_before=day_end - SETTLE_DELAY)

    @property
    def open_entities(self) -> int:
        """How many entities still hold events (their last window closed too recently)."""
        return len(self._open)

    def entities_by_furthest_step(self) -> dict[str, int]:
        self.end_day(END_OF_TIME)
        counts = Counter(self._settled)
        return {str(step): counts[step] for step in range(1, len(self.funnel.steps) + 1)}

    def _can_count(self, entity: int, at: int, index: int) -> bool:
        if self._last_start.get(entity, -1 - self.window) < at - self.window:
            return False
        return not self._distinct_steps or _follows_previous_step(self._open[entity], index)

    def _settle(self, windows_closed_before: int) -> None:
        mask = (1 << _NAME_BITS) - 1
        closed = [
            entity
            for entity, started_at in self._last_start.items()
            if started_at + self.window < windows_closed_before
        ]
        for entity in closed:
            del self._last_start[entity]
            stored = self._open.pop(entity)
            events = [(value >> _NAME_BITS, self.names[value & mask]) for value in stored]
            reached = furthest_step(events, self.funnel.steps, self.window)
            if entity >= len(self._settled):
                self._settled.extend(bytes(entity + 1 - len(self._settled)))
            self._settled[entity] = max(self._settled[entity], reached)


def _follows_previous_step(stored: array, index: int) -> bool:
    """Whether the entity's latest kept event of step `index` or the step before is of the
    step before (kept events are in time order, the lower step first at equal times)."""
    mask = (1 << _NAME_BITS) - 1
    for event in reversed(stored):
        if event & mask == index:
            return False
        if event & mask == index - 1:
            return True
    return False
