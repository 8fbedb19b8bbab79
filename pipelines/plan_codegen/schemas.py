"""JSON Schemas (draft 2020-12) of the tracked events, in the shape Segment Protocols keeps
per event: a schema of the whole track message whose `properties.properties` is the event's
properties (the part Amplitude Data calls event properties). They use only keywords that
draft-07 reads the same way, so Protocols' own validator takes them as they are.

`segment-tracking-plan-rules.json` holds them all as the `rules` body of Segment's Public API
(`PATCH /tracking-plans/{id}/rules`: `type` TRACK, `key` the event name, `version` 1).
"""

from __future__ import annotations

import json

from pipelines.plan_codegen.names import (
    IDENTITY_DOCS,
    ORG_PROPERTY,
    plans_org,
    snake,
    tracked_events,
)
from pipelines.tracking_plan import EventProperty, PlannedEvent, TrackingPlan

DRAFT = "https://json-schema.org/draft/2020-12/schema"
RULES_FILE = "segment-tracking-plan-rules.json"


def render(plan: TrackingPlan) -> dict[str, str]:
    """File name -> its JSON text: one schema per tracked event, and the rules file."""
    events = tracked_events(plan)
    schemas = {event.name: event_schema(event) for event in events}
    files = {f"{snake(name)}.json": _dumps(schema) for name, schema in schemas.items()}
    rules = [
        {"type": "TRACK", "key": name, "version": 1, "jsonSchema": schema}
        for name, schema in schemas.items()
    ]
    files[RULES_FILE] = _dumps({"rules": rules})
    return files


def event_schema(event: PlannedEvent) -> dict:
    """The schema of the event's track message. The organization context may sit in
    `properties.org_id` or in `context.groupId` (contract section 4, as the lint reads it),
    so a required `org_id` is required in one of the two."""
    org = plans_org(event)
    group_id = {"type": "string", "description": IDENTITY_DOCS[ORG_PROPERTY]}
    required = [prop.name for prop in event.properties if prop.required and prop is not org]
    schema = {
        "$schema": DRAFT,
        "title": event.name,
        "description": event.description,
        "type": "object",
        "properties": {
            "event": {"const": event.name},
            "context": {"type": "object", "properties": {"groupId": group_id}},
            "traits": {"type": "object"},
            "properties": {
                "type": "object",
                "properties": {prop.name: _property(prop) for prop in event.properties},
                "required": required,
            },
        },
        "required": ["event", "properties"],
    }
    if org is not None and org.required:
        schema["anyOf"] = [
            {"properties": {"properties": {"required": [ORG_PROPERTY]}}},
            {"properties": {"context": {"required": ["groupId"]}}, "required": ["context"]},
        ]
    return schema


def _property(prop: EventProperty) -> dict:
    schema: dict = {"type": prop.type}
    description = prop.description or IDENTITY_DOCS.get(prop.name, "")
    if description:
        schema["description"] = description
    if prop.enum:
        schema["enum"] = list(prop.enum)
    if prop.properties:
        schema["properties"] = {field.name: _property(field) for field in prop.properties}
        schema["required"] = [field.name for field in prop.properties if field.required]
        schema["additionalProperties"] = False
    if prop.items:
        schema["items"] = _property(prop.items)
    return schema


def _dumps(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
