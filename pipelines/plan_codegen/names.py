"""How plan names become code names, and what every generator shares about the plan."""

from __future__ import annotations

import textwrap

from pipelines.errors import UserError
from pipelines.tracking_plan import EventProperty, PlannedEvent, TrackingPlan

ORG_PROPERTY = "org_id"
IDENTITY_DOCS = {
    "user_id": "The user's id; give it, an anonymous id, or both.",
    "anonymous_id": "The device's id before the user is known.",
    "org_id": "The organization in context.",
}
# An event that does not plan `org_id` still takes one: it is sent as the message's group.
UNPLANNED_ORG_DOC = "The organization in context, if any; sent in `context.groupId`."


def snake(event_name: str) -> str:
    """`Plan Upgrade Clicked` -> `plan_upgrade_clicked`."""
    return "_".join(word.lower() for word in event_name.split())


def camel(name: str) -> str:
    """`Plan Upgrade Clicked` or `plan_upgrade_clicked` -> `planUpgradeClicked`."""
    first, *rest = pascal(name)
    return first.lower() + "".join(rest)


def pascal(name: str) -> str:
    """`Plan Upgrade Clicked` or `plan_upgrade_clicked` -> `PlanUpgradeClicked`."""
    return "".join(word[0].upper() + word[1:] for word in name.replace("_", " ").split())


def tracked_events(plan: TrackingPlan) -> tuple[PlannedEvent, ...]:
    """The events clients send. Derived events come from production tables (dbt builds
    them), so no tracking call exists for them; two events whose code names would collide
    are a UserError."""
    events = tuple(event for event in plan.events if event.origin == "tracked")
    seen: dict[str, str] = {}
    for event in events:
        other = seen.setdefault(snake(event.name), event.name)
        if other != event.name:
            raise UserError(f"`{other}` and `{event.name}` would generate the same function")
    return events


def plans_org(event: PlannedEvent) -> EventProperty | None:
    """The event's planned `org_id` property, when it has one (then the org context is sent
    in `properties.org_id`, else in `context.groupId`: contract section 4)."""
    return next((prop for prop in event.properties if prop.name == ORG_PROPERTY), None)


def property_doc(prop: EventProperty) -> str:
    """A property's description, saying what the code cannot: integers, allowed values."""
    parts = [prop.description or IDENTITY_DOCS.get(prop.name, "")]
    if prop.type == "integer":
        parts.append("An integer.")
    if prop.enum:
        parts.append("One of " + ", ".join(repr(value) for value in prop.enum) + ".")
    if prop.required:
        parts.append("Required.")
    return " ".join(part for part in parts if part)


def wrap(text: str, indent: str, width: int = 96) -> list[str]:
    """Lines of `text` indented and wrapped to fit the generated code's line length."""
    lines = textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )
    return lines or [indent.rstrip()]
