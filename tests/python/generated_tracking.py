"""The checked-in generated tracking code, loaded and driven: every tracked event sent the
way an application would, for the codegen tests and the round trip."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from segment.analytics import Client

from pipelines import plan_codegen, tracking_plan

PLAN = tracking_plan.load()
GENERATED_PYTHON = plan_codegen.EXAMPLES_DIR / "python" / "tracking.py"
TYPESCRIPT_DIR = plan_codegen.EXAMPLES_DIR / "typescript"
# The TypeScript twin of send_every_event, compiled and run by the TypeScript tests.
TYPESCRIPT_DRIVER = Path(__file__).with_name("send_every_event.ts")


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tracking = load_module(GENERATED_PYTHON)


def schema_of(event_name: str) -> dict:
    return plan_codegen.schemas.event_schema(PLAN.event(event_name))


def send_every_event(client: Client) -> None:
    """Every tracked event once with all its properties, and once with only what it needs."""
    who = {"user_id": "u-1", "anonymous_id": "a-1"}
    tracking.user_signed_up(client, **who, org_id="o-1", signup_method="github", invited=True)
    tracking.user_signed_up(client, anonymous_id="a-2")
    tracking.user_logged_in(client, **who)
    tracking.organization_created(client, **who, org_id="o-1")
    tracking.organization_switched(client, user_id="u-1", org_id="o-2")
    tracking.project_created(
        client,
        **who,
        org_id="o-1",
        language="ruby",
        repository={"provider": "gitlab", "is_private": True},
    )
    tracking.project_created(client, user_id="u-1", org_id="o-1")
    tracking.build_started(client, **who, org_id="o-1", project_id="o-1-1")
    tracking.build_succeeded(client, **who, org_id="o-1", project_id="o-1-1", duration_seconds=93)
    tracking.build_failed(
        client,
        **who,
        org_id="o-1",
        project_id="o-1-1",
        duration_seconds=12,
        failed_steps=[{"name": "test", "exit_code": 1}, {"name": "lint", "exit_code": 2}],
    )
    tracking.teammate_invited(client, **who, org_id="o-1", role="billing")
    tracking.dashboard_viewed(client, user_id="u-1")
    tracking.dashboard_viewed(client, user_id="u-1", org_id="o-1")
    tracking.plan_page_viewed(client, **who, org_id="o-1")
    tracking.plan_upgrade_clicked(client, **who, org_id="o-1", plan_id="business")
