"""The tracking plan is the one source of event names; dbt's seed copy must match it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import tracking_plan
from pipelines.errors import UserError

CONTRACT_TRACKED_EVENTS = {
    "User Signed Up",
    "User Logged In",
    "Organization Created",
    "Organization Switched",
    "Project Created",
    "Build Started",
    "Build Succeeded",
    "Build Failed",
    "Teammate Invited",
    "Dashboard Viewed",
    "Plan Page Viewed",
    "Plan Upgrade Clicked",
}
CONTRACT_DERIVED_EVENTS = {"Plan Upgraded", "Plan Downgraded", "Subscription Cancelled"}
# Contract section 4: Segment page and screen calls reach the stream as these; dbt derives
# them from the calls, so no client sends them as tracks.
CALL_DERIVED_EVENTS = {"Page Viewed", "Screen Viewed"}

VALID_EVENT = """
  - name: Build Started
    description: A build started.
    owner: product
    origin: tracked
    properties:
      org_id: {type: string, required: true}
"""


def with_property(line: str) -> str:
    return VALID_EVENT + f"      {line}\n"


def write_plan(tmp_path: Path, events_yaml: str) -> Path:
    path = tmp_path / "tracking_plan.yml"
    path.write_text("events:" + events_yaml, encoding="utf-8")
    return path


def test_committed_seed_equals_what_the_plan_generates():
    committed = tracking_plan.SEED_PATH.read_text(encoding="utf-8")

    assert committed == tracking_plan.seed_csv(tracking_plan.load()), (
        "seeds/tracking_plan_event_names.csv is stale: run `python -m pipelines.tracking_plan`"
    )


def test_plan_holds_every_contract_event_with_its_origin():
    plan = tracking_plan.load()
    origins = {event.name: event.origin for event in plan.events}

    assert {name for name, origin in origins.items() if origin == "tracked"} >= (
        CONTRACT_TRACKED_EVENTS
    )
    assert {name for name, origin in origins.items() if origin == "derived"} == (
        CONTRACT_DERIVED_EVENTS | CALL_DERIVED_EVENTS
    )


def test_legacy_aliases_map_to_plan_upgrade_clicked_and_unknown_names_to_none():
    plan = tracking_plan.load()

    assert plan.canonical_name("click-plan-update") == "Plan Upgrade Clicked"
    assert plan.canonical_name("update-plan-clicked") == "Plan Upgrade Clicked"
    assert plan.canonical_name("Plan Upgrade Clicked") == "Plan Upgrade Clicked"
    assert plan.canonical_name("plan upgrade clicked") is None


def test_write_seed_regenerates_the_copy_from_an_edited_plan(tmp_path):
    plan_path = write_plan(tmp_path, VALID_EVENT + "    aliases: [build-start]\n")
    seed_path = tmp_path / "seed.csv"

    tracking_plan.write_seed(plan_path, seed_path)

    assert seed_path.read_text(encoding="utf-8").splitlines() == [
        "source_event_name,event_name,origin,is_alias",
        "Build Started,Build Started,tracked,false",
        "build-start,Build Started,tracked,true",
    ]


@pytest.mark.parametrize(
    ("events_yaml", "message"),
    [
        (VALID_EVENT.replace("Build Started", "build started"), "not Object Action"),
        (VALID_EVENT.replace("origin: tracked", "origin: guessed"), "origin `guessed`"),
        (VALID_EVENT.replace("    owner: product\n", ""), "has no `owner`"),
        (VALID_EVENT.replace("org_id:", "orgId:"), "not snake_case"),
        (VALID_EVENT.replace("type: string", "type: text"), "needs a type"),
        (VALID_EVENT + VALID_EVENT, "appears twice"),
        (with_property("user_id: {type: string}"), "reserved: every tracking call"),
        (VALID_EVENT.replace("org_id: {type: string", "org_id: {type: integer"), "must be a str"),
        (with_property("client: {type: string}"), "reserved: the generated Python"),
        (with_property("from: {type: string}"), "Python keyword"),
        (with_property("steps: {type: array, unit: s}"), "unknown keys \\['unit'\\]"),
        (with_property("kind: {type: boolean, enum: [true]}"), "enum, allowed for"),
        (with_property("size: {type: integer, enum: [1, two]}"), "not of type integer"),
        (with_property("size: {type: integer, enum: []}"), "non-empty list"),
        (with_property("size: {type: string, enum: [a, a]}"), "a value twice"),
        (with_property("size: {type: string, properties: {a: {type: string}}}"), "objects only"),
        (with_property("size: {type: string, items: {type: string}}"), "arrays only"),
        (with_property("box: {type: object, properties: {Side: {type: string}}}"), "`box.Side`"),
        (with_property("steps: {type: array, items: {type: list}}"), "`steps\\[\\]` of"),
    ],
)
def test_invalid_plans_are_refused_with_the_reason(tmp_path, events_yaml, message):
    with pytest.raises(UserError, match=message):
        tracking_plan.load(write_plan(tmp_path, events_yaml))


def test_a_missing_plan_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no tracking plan"):
        tracking_plan.load(tmp_path / "absent.yml")


def test_properties_may_be_enums_nested_objects_and_arrays_of_them(tmp_path):
    plan = tracking_plan.load(
        write_plan(
            tmp_path,
            with_property("steps:")
            + """        type: array
        description: The steps.
        items:
          type: object
          properties:
            name: {type: string, required: true, enum: [test, lint]}
            exit_code: {type: integer}
""",
        )
    )

    steps = plan.event("Build Started").properties[1]
    assert (steps.name, steps.type, steps.description) == ("steps", "array", "The steps.")
    name, exit_code = steps.items.properties
    assert (name.name, name.required, name.enum) == ("name", True, ("test", "lint"))
    assert (exit_code.type, exit_code.required) == ("integer", False)
