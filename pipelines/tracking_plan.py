"""The tracking plan (`tracking_plan.yml`): the single source of truth for event names.

Loaders and reports read it here; dbt reads a generated seed copy
(`seeds/tracking_plan_event_names.csv`, one row per name a source may send). After editing
the plan, regenerate that copy with `python -m pipelines.tracking_plan`; a test fails while
the committed copy is stale.
"""

from __future__ import annotations

import csv
import io
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PLAN_PATH = PROJECT_ROOT / "tracking_plan.yml"
SEED_PATH = PROJECT_ROOT / "seeds" / "tracking_plan_event_names.csv"
ORIGINS = ("tracked", "derived")
PROPERTY_TYPES = ("string", "number", "integer", "boolean", "object", "array")
ENUM_TYPES = ("string", "number", "integer")
# Arguments of every generated tracking function besides the properties, so never properties.
RESERVED_PROPERTY_NAMES = {
    "user_id": "every tracking call takes it as its identity",
    "anonymous_id": "every tracking call takes it as its identity",
    "client": "the generated Python functions take the Segment client under that name",
}
PROPERTY_KEYS = ("type", "required", "description", "enum", "properties", "items")
SEED_COLUMNS = ("source_event_name", "event_name", "origin", "is_alias")

# Object + Action: capitalised words of letters or digits separated by single spaces.
TITLE_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*( [A-Z][A-Za-z0-9]*)+$")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@dataclass(frozen=True)
class EventProperty:
    """A planned property. `enum` lists the values allowed (string, number or integer);
    an object may declare its own `properties` (then no others), an array its `items`."""

    name: str
    type: str
    required: bool
    description: str = ""
    enum: tuple[str | int | float, ...] = ()
    properties: tuple[EventProperty, ...] = ()
    items: EventProperty | None = None


@dataclass(frozen=True)
class PlannedEvent:
    name: str
    description: str
    owner: str
    origin: str
    aliases: tuple[str, ...] = ()
    properties: tuple[EventProperty, ...] = field(default=())


@dataclass(frozen=True)
class TrackingPlan:
    events: tuple[PlannedEvent, ...]

    def canonical_names(self) -> dict[str, str]:
        """Every name a source may send (canonical names and aliases) -> its canonical name."""
        names = {}
        for event in self.events:
            names[event.name] = event.name
            for alias in event.aliases:
                names[alias] = event.name
        return names

    def canonical_name(self, source_event_name: str) -> str | None:
        """The canonical name of a sent name, or None when the plan does not know it."""
        return self.canonical_names().get(source_event_name)

    def event(self, name: str) -> PlannedEvent:
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(name)


def load(path: Path = PLAN_PATH) -> TrackingPlan:
    """Read and validate the plan; any broken rule is a UserError naming the file."""
    plan, problems = check(path)
    if problems:
        raise UserError(f"{path}: " + "; ".join(problems))
    return plan


def check(path: Path = PLAN_PATH) -> tuple[TrackingPlan, list[str]]:
    """Read the plan and list every rule it breaks (`analytics plan lint` reports them all).
    The plan returned holds every event with a name, its valid properties only. A missing
    or unreadable file is a UserError."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no tracking plan at {path}") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise UserError(f"{path}: expected a mapping with an `events` list")
    problems: list[str] = []
    events = []
    for entry in document["events"]:
        event = _parse_event(entry, problems)
        if event is not None:
            events.append(event)
    plan = TrackingPlan(tuple(events))
    problems.extend(_duplicate_names(plan))
    return plan, problems


def seed_csv(plan: TrackingPlan) -> str:
    """The seed dbt reads: one row per canonical name or alias, sorted for stable diffs."""
    rows = []
    for event in plan.events:
        rows.append((event.name, event.name, event.origin, "false"))
        rows.extend((alias, event.name, event.origin, "true") for alias in event.aliases)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SEED_COLUMNS)
    writer.writerows(sorted(rows))
    return buffer.getvalue()


def write_seed(plan_path: Path = PLAN_PATH, seed_path: Path = SEED_PATH) -> Path:
    """Regenerate dbt's copy of the plan from the plan file."""
    seed_path.write_text(seed_csv(load(plan_path)), encoding="utf-8")
    return seed_path


def _parse_event(entry: object, problems: list[str]) -> PlannedEvent | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        problems.append(f"every event needs a `name`: {entry!r}")
        return None
    name = entry["name"]
    if not TITLE_CASE.match(name):
        problems.append(f"event `{name}` is not Object Action in Title Case")
    for required in ("description", "owner", "origin"):
        if not entry.get(required):
            problems.append(f"event `{name}` has no `{required}`")
    if entry.get("origin") and entry["origin"] not in ORIGINS:
        problems.append(f"event `{name}` has origin `{entry['origin']}`, not {ORIGINS}")
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
        problems.append(f"event `{name}` aliases must be a list of names")
        aliases = []
    properties = entry.get("properties") or {}
    if not isinstance(properties, dict):
        problems.append(f"event `{name}` properties must be a mapping of name to spec")
        properties = {}
    return PlannedEvent(
        name=name,
        description=str(entry.get("description") or ""),
        owner=str(entry.get("owner") or ""),
        origin=str(entry.get("origin") or ""),
        aliases=tuple(aliases),
        properties=tuple(
            parsed
            for property_name, spec in properties.items()
            if (parsed := _parse_property(name, property_name, spec, problems)) is not None
        ),
    )


def _parse_property(
    event: str, name: str, spec: object, problems: list[str], path: str | None = None
) -> EventProperty | None:
    """`path` names a nested property in messages (`error.code`, `steps[]`)."""
    top_level = path is None
    path = path or name
    label = f"property `{path}` of `{event}`"
    if not SNAKE_CASE.match(name):
        problems.append(f"{label} is not snake_case")
    if top_level and name in RESERVED_PROPERTY_NAMES:
        problems.append(f"{label} is reserved: {RESERVED_PROPERTY_NAMES[name]}")
    if keyword.iskeyword(name):
        problems.append(f"{label} is a Python keyword: generated Python cannot name it")
    if not isinstance(spec, dict) or spec.get("type") not in PROPERTY_TYPES:
        problems.append(f"{label} needs a type among {PROPERTY_TYPES}")
        return None
    if top_level and name == "org_id" and spec["type"] != "string":
        problems.append(f"{label} must be a string: org ids are text everywhere")
    unknown = sorted(set(spec) - set(PROPERTY_KEYS))
    if unknown:
        problems.append(f"{label} has unknown keys {unknown}, not among {PROPERTY_KEYS}")
    kind = spec["type"]
    return EventProperty(
        name=name,
        type=kind,
        required=bool(spec.get("required")),
        description=str(spec.get("description") or ""),
        enum=_parse_enum(label, kind, spec.get("enum"), problems),
        properties=_parse_fields(event, path, kind, spec.get("properties"), problems),
        items=_parse_items(event, path, name, kind, spec.get("items"), problems),
    )


def _parse_enum(
    label: str, kind: str, values: object, problems: list[str]
) -> tuple[str | int | float, ...]:
    if values is None:
        return ()
    if kind not in ENUM_TYPES:
        problems.append(f"{label} has an enum, allowed for {ENUM_TYPES} only")
        return ()
    if not isinstance(values, list) or not values:
        problems.append(f"{label} enum must be a non-empty list")
        return ()
    wrong = [value for value in values if not _is_of_type(value, kind)]
    if wrong:
        problems.append(f"{label} enum values {wrong!r} are not of type {kind}")
    if len(set(values)) != len(values):
        problems.append(f"{label} enum lists a value twice")
    return tuple(values)


def _parse_fields(
    event: str, path: str, kind: str, fields: object, problems: list[str]
) -> tuple[EventProperty, ...]:
    if fields is None:
        return ()
    if kind != "object" or not isinstance(fields, dict) or not fields:
        problems.append(
            f"property `{path}` of `{event}` has `properties`: a non-empty mapping, objects only"
        )
        return ()
    return tuple(
        parsed
        for name, spec in fields.items()
        if (parsed := _parse_property(event, name, spec, problems, f"{path}.{name}")) is not None
    )


def _parse_items(
    event: str, path: str, name: str, kind: str, items: object, problems: list[str]
) -> EventProperty | None:
    if items is None:
        return None
    if kind != "array":
        problems.append(f"property `{path}` of `{event}` has `items`: arrays only")
        return None
    return _parse_property(event, name, items, problems, f"{path}[]")


def _is_of_type(value: object, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    return kind == "string" and isinstance(value, str)


def _duplicate_names(plan: TrackingPlan) -> list[str]:
    seen: set[str] = set()
    problems = []
    for event in plan.events:
        for sent_name in (event.name, *event.aliases):
            if sent_name in seen:
                problems.append(f"the name `{sent_name}` appears twice in the plan")
            seen.add(sent_name)
    return problems


if __name__ == "__main__":
    print(f"wrote {write_seed().relative_to(PROJECT_ROOT)}")
