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


class PropertyPaths:
    """Per event, each path to a non-null leaf value of its properties (a nested object's
    keys in turn; a list is a leaf) with the kinds of its values, in order of appearance."""

    def __init__(self) -> None:
        self.events: dict[str, dict[Path, list[str]]] = {}

    def add(self, event: str, properties: dict[str, Any]) -> None:
        seen = self.events.setdefault(event, {})
        if properties:
            self._add(seen, (), properties)

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
                if len(seen) < MAX_PATHS:
                    seen[path] = [kind]
            elif kind not in kinds:
                kinds.append(kind)
