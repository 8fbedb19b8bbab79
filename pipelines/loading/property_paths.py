"""The property paths a load saw, per event, and the kinds of their values, gathered while
the lines are read: what the event views (`postgres_event_views`) need to spread
`properties` into columns, without reading the loaded rows back."""

from __future__ import annotations

from typing import Any

from pipelines.loading.batches import MAX_TABLE_COLUMNS
from pipelines.loading.columns import value_kind

# Kinds by the class of a parsed JSON value (integers need a range check, objects recurse).
LEAF_KINDS = {str: "text", bool: "bool", float: "double", list: "json"}
# Paths kept per event: more could never become columns of a view (`MAX_TABLE_COLUMNS`), and
# memory stays bounded whatever the properties.
MAX_PATHS = 4 * MAX_TABLE_COLUMNS

Path = tuple[str, ...]
EventPaths = dict[str, dict[Path, list[str]]]


class PropertyPaths:
    """Per event, each path to a non-null leaf value of its properties (a nested object's
    keys in turn; a list is a leaf) with the kinds of its values, in order of appearance:
    at most `max_paths` per event (None: no limit)."""

    def __init__(self, max_paths: int | None = MAX_PATHS) -> None:
        self.events: EventPaths = {}
        self.max_paths = max_paths

    def add(self, event: str, properties: dict[str, Any]) -> None:
        seen = self.events.setdefault(event, {})
        if properties:
            self._add(seen, (), properties)

    def take(self) -> EventPaths:
        """The paths seen so far, this instance emptied."""
        events, self.events = self.events, {}
        return events

    def merge(self, events: EventPaths) -> None:
        """Add the paths another instance saw after those seen here, as if this one had
        seen them: new paths while there is room, new kinds of known paths."""
        for event, paths in events.items():
            seen = self.events.setdefault(event, {})
            for path, kinds in paths.items():
                known = seen.get(path)
                if known is None:
                    if self._has_room(seen):
                        seen[path] = list(kinds)
                else:
                    known.extend(kind for kind in kinds if kind not in known)

    def kinds(self, event: str) -> list[tuple[Path, str]]:
        return [
            (path, kind) for path, kinds in self.events.get(event, {}).items() for kind in kinds
        ]

    def _add(self, seen: dict[Path, list[str]], prefix: Path, values: dict[str, Any]) -> None:
        for key, value in values.items():
            path = (*prefix, key)
            if value.__class__ is dict:
                self._add(seen, path, value)
                continue
            kind = LEAF_KINDS.get(value.__class__)
            if kind is None:
                if value is None:
                    continue
                kind = value_kind(value)
            kinds = seen.get(path)
            if kinds is None:
                if self._has_room(seen):
                    seen[path] = [kind]
            elif kind not in kinds:
                kinds.append(kind)

    def _has_room(self, seen: dict[Path, list[str]]) -> bool:
        return self.max_paths is None or len(seen) < self.max_paths
