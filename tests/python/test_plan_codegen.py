"""The tracking plan as code, Python side: the checked-in output is what the plan generates,
the generated library refuses what the plan forbids before sending anything, and what it
sends through segment-analytics-python passes the generated JSON Schemas."""

from __future__ import annotations

import gzip
import inspect
import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from generated_tracking import GENERATED_PYTHON, PLAN, schema_of, send_every_event, tracking
from segment.analytics import Client
from segment_api import SegmentApi

from pipelines import plan_codegen, tracking_plan
from pipelines.generate import GeneratorConfig, generate
from pipelines.plan_codegen import names
from pipelines.tracking_plan import TrackingPlan

WRITE_KEY = "python-write-key"
SOURCE = "python-server"


def analytics(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *arguments],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def api():
    with SegmentApi({WRITE_KEY: SOURCE}) as api:
        yield api


@pytest.fixture
def client(api: SegmentApi) -> Client:
    return Client(WRITE_KEY, host=api.url, sync_mode=True, max_retries=0)


def test_checked_in_output_is_what_the_plan_generates():
    expected = plan_codegen.expected_examples(PLAN)
    stale = [
        str(path.relative_to(tracking_plan.PROJECT_ROOT))
        for path, text in expected.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    extra = set((plan_codegen.EXAMPLES_DIR / "schemas").glob("*.json")) - set(expected)

    assert not stale and not extra, (
        f"tracking/ is stale ({stale or sorted(extra)}): run `python -m pipelines.plan_codegen`"
    )


@pytest.mark.parametrize("plan", [PLAN, TrackingPlan(())], ids=["default plan", "empty plan"])
def test_generated_python_is_ruff_clean_as_written(plan: TrackingPlan, tmp_path: Path):
    path = plan_codegen.write_code("python", tmp_path, plan)
    settings = ["--no-cache", "--config", str(tracking_plan.PROJECT_ROOT / "pyproject.toml")]
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *settings, str(path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_cli_writes_the_same_library_and_schemas(tmp_path: Path):
    for arguments in (
        ["codegen", "--language", "python", "--out", str(tmp_path / "py")],
        ["codegen", "--language", "typescript", "--out", str(tmp_path / "ts")],
        ["schemas", "--out", str(tmp_path / "schemas")],
    ):
        result = analytics("plan", *arguments)
        assert result.returncode == 0, result.stderr

    examples = plan_codegen.EXAMPLES_DIR
    assert (tmp_path / "py" / "tracking.py").read_text() == GENERATED_PYTHON.read_text()
    assert (tmp_path / "ts" / "tracking.ts").read_text() == (
        examples / "typescript" / "tracking.ts"
    ).read_text()
    written = {path.name: path.read_text() for path in (tmp_path / "schemas").iterdir()}
    assert written == {path.name: path.read_text() for path in (examples / "schemas").iterdir()}


def test_one_function_per_tracked_event_and_none_for_derived_ones():
    functions = {
        name
        for name, value in vars(tracking).items()
        if inspect.isfunction(value)
        and value.__module__ == tracking.__name__
        and not name.startswith("_")
    }
    tracked = {names.snake(event.name) for event in names.tracked_events(PLAN)}

    assert functions == tracked
    assert "plan_upgraded" not in functions  # derived from subscription_changes by dbt


USER, IN_ORG = {"user_id": "u"}, {"user_id": "u", "org_id": "o"}
FORBIDDEN_CALLS = [
    ("plan_upgrade_clicked", USER, TypeError, "org_id"),
    ("plan_upgrade_clicked", {**USER, "org_id": None}, TypeError, "org_id is required"),
    ("plan_upgrade_clicked", {"org_id": "o"}, ValueError, "user_id"),
    ("plan_upgrade_clicked", {**IN_ORG, "user_id": 7}, TypeError, "user_id must be"),
    ("plan_upgrade_clicked", {**IN_ORG, "org_id": 7}, TypeError, "org_id must be"),
    ("plan_upgrade_clicked", {**IN_ORG, "plan_id": "gold"}, ValueError, "'team', 'business'"),
    ("build_succeeded", {**IN_ORG, "duration_seconds": 1.5}, TypeError, "integer"),
    ("build_succeeded", {**IN_ORG, "duration_seconds": True}, TypeError, "integer"),
    ("user_signed_up", {**USER, "invited": "yes"}, TypeError, "boolean"),
    ("user_signed_up", {**USER, "org_id": 3}, TypeError, "org_id"),
    ("user_signed_up", {**USER, "plan": "x"}, TypeError, "plan"),
    ("project_created", {**IN_ORG, "repository": {}}, TypeError, "repository.provider is required"),
    ("project_created", {**IN_ORG, "repository": {"provider": "svn"}}, ValueError, "provider"),
    ("project_created", {**IN_ORG, "repository": {"provider": "github", "x": 3}}, ValueError, "x"),
    (
        "build_failed",
        {**IN_ORG, "failed_steps": [{"name": "t", "exit_code": "1"}]},
        TypeError,
        r"failed_steps\[0\].exit_code",
    ),
    ("build_failed", {**IN_ORG, "failed_steps": "test"}, TypeError, "array"),
]


@pytest.mark.parametrize(("function", "arguments", "error", "message"), FORBIDDEN_CALLS)
def test_what_the_plan_forbids_raises_before_anything_is_sent(
    api: SegmentApi, client: Client, function, arguments, error, message
):
    with pytest.raises(error, match=message):
        getattr(tracking, function)(client, **arguments)

    assert api.received(SOURCE) == []


def test_every_message_sent_passes_its_json_schema(api: SegmentApi, client: Client):
    send_every_event(client)
    received = api.received(SOURCE)

    assert {message["event"] for message in received} == {
        event.name for event in names.tracked_events(PLAN)
    }
    for message in received:
        jsonschema.Draft202012Validator(schema_of(message["event"])).validate(message)


def test_org_context_goes_where_the_warehouse_reads_it(api: SegmentApi, client: Client):
    tracking.user_signed_up(client, user_id="u", org_id="o-9")
    tracking.project_created(client, user_id="u", org_id="o-8")
    signed_up, created = api.received(SOURCE)

    assert signed_up["context"]["groupId"] == "o-9"
    assert "org_id" not in signed_up["properties"]
    assert created["properties"]["org_id"] == "o-8"
    assert "groupId" not in created["context"]


def test_absent_optional_properties_are_not_sent(api: SegmentApi, client: Client):
    tracking.build_succeeded(client, user_id="u", org_id="o", project_id=None)

    (message,) = api.received(SOURCE)
    assert message["properties"] == {"org_id": "o"}
    assert (message["event"], message["userId"]) == ("Build Succeeded", "u")


def test_schemas_are_valid_2020_12_and_reject_what_the_plan_forbids():
    for event in names.tracked_events(PLAN):
        jsonschema.Draft202012Validator.check_schema(schema_of(event.name))
    validator = jsonschema.Draft202012Validator(schema_of("Project Created"))
    good = {"event": "Project Created", "properties": {"org_id": "o"}}

    assert validator.is_valid(good)
    assert validator.is_valid({**good, "properties": {}, "context": {"groupId": "o"}})
    for wrong in (
        {"event": "Project Created", "properties": {}},
        {"event": "Project Created", "properties": {"org_id": 1}},
        {"event": "Project Created", "properties": {"org_id": "o", "language": "cobol"}},
        {"event": "Project Created", "properties": {"org_id": "o", "repository": {}}},
        {"event": "Build Started", "properties": {"org_id": "o"}},
    ):
        assert not validator.is_valid(wrong), wrong


def test_properties_whose_camelcase_names_clash_are_one_line_and_exit_2(tmp_path: Path):
    plan_path = tmp_path / "tracking_plan.yml"
    plan_path.write_text(
        """events:
  - name: Build Started
    description: A build started.
    owner: product
    origin: tracked
    properties:
      step_2: {type: string}
      step2: {type: string}
""",
        encoding="utf-8",
    )
    arguments = ["--language", "typescript", "--out", str(tmp_path), "--plan", str(plan_path)]

    result = analytics("plan", "codegen", *arguments)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "analytics: `Build Started`: properties ['step2', 'step_2'] have the same camelCase name"
    )


def test_every_track_message_the_generator_writes_under_a_planned_name_passes_its_schema(
    tmp_path: Path,
):
    pinned = {"end_date": date(2024, 1, 20), "malformed_lines": 0}
    generate(tmp_path, GeneratorConfig(seed=3, orgs=30, days=20, **pinned))
    validators = {
        event.name: jsonschema.Draft202012Validator(schema_of(event.name))
        for event in names.tracked_events(PLAN)
    }
    checked: Counter[str] = Counter()

    for path in sorted((tmp_path / "segment-logs").rglob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for message in map(json.loads, lines):
                validator = validators.get(message.get("event"))
                if message["type"] == "track" and validator is not None:
                    validator.validate(message)
                    checked[message["event"]] += 1

    assert set(checked) == set(validators)  # the generator sends every tracked event
