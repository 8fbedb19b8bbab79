"""The tracking plan as code, end to end: the generated TypeScript compiles under
`tsc --strict` and rejects wrong calls, and what the generated Python and TypeScript send
through the official Segment libraries to a local stand-in of Segment's tracking API, filed
in the S3 export layout, loads with `analytics load segment`, builds, and passes
`analytics plan lint` with no error. Needs node and npm (`npm ci` installs the toolchain
from tracking/typescript/package-lock.json): `pytest -m typescript`, run by .ci/run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from generated_tracking import (
    PLAN,
    TYPESCRIPT_DIR,
    TYPESCRIPT_DRIVER,
    schema_of,
    send_every_event,
)
from loader_fixtures import query, run_cli
from segment.analytics import Client
from segment_api import SegmentApi

from pipelines.plan_codegen.names import tracked_events

pytestmark = pytest.mark.typescript

SOURCES = {"python-write-key": "python-server", "node-write-key": "node-server"}
TSC_ERROR = re.compile(r"^(?P<file>\S+?)\((?P<line>\d+),\d+\): error (?P<code>TS\d+)", re.M)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The TypeScript toolchain and @segment/analytics-node, installed from the lockfile."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: the TypeScript tests need node and npm")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=TYPESCRIPT_DIR,
        check=True,
        env={**os.environ, "NODE_ENV": "development"},
    )
    return TYPESCRIPT_DIR / "node_modules"


def tsc(directory: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TYPESCRIPT_DIR / "node_modules" / ".bin" / "tsc"), "-p", str(directory), *arguments],
        capture_output=True,
        text=True,
    )


def project_with(tmp_path: Path, node_modules: Path, files: dict[str, str]) -> Path:
    """A TypeScript project holding the checked-in tracking.ts and `files`, compiled with the
    checked-in tsconfig.json."""
    (tmp_path / "node_modules").symlink_to(node_modules)
    shutil.copy(TYPESCRIPT_DIR / "tracking.ts", tmp_path / "tracking.ts")
    tsconfig = (TYPESCRIPT_DIR / "tsconfig.json").read_text()
    file_list = ", ".join(f'"{name}"' for name in ["tracking.ts", *files])
    (tmp_path / "tsconfig.json").write_text(tsconfig.replace('"tracking.ts"', file_list))
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_generated_typescript_compiles_with_tsc_strict(node_modules):
    result = tsc(TYPESCRIPT_DIR, "--strict", "--noEmit")

    assert result.returncode == 0, result.stdout


WRONG_CALLS = """import type { Analytics } from "@segment/analytics-node";
import * as tracking from "./tracking";
declare const analytics: Analytics;
tracking.planUpgradeClicked(analytics, { userId: "u", orgId: "o", planId: "team" });
tracking.planUpgradeClicked(analytics, { userId: "u" });
tracking.planUpgradeClicked(analytics, { orgId: "o" });
tracking.planUpgradeClicked(analytics, { userId: "u", orgId: "o", planId: "gold" });
tracking.buildSucceeded(analytics, { userId: "u", orgId: "o", durationSeconds: "93" });
tracking.projectCreated(analytics, { userId: "u", orgId: "o", repository: { isPrivate: true } });
tracking.buildFailed(analytics, { userId: "u", orgId: "o", failedSteps: [{ exitCode: 1 }] });
tracking.userSignedUp(analytics, { userId: "u", plan: "x" });
tracking.userSignedUp(analytics, { userId: 7 });
tracking.plan_upgrade_clicked(analytics, { userId: "u", orgId: "o" });
"""


def test_every_deliberately_wrong_call_fails_to_type_check(node_modules, tmp_path):
    project = project_with(tmp_path, node_modules, {"wrong.ts": WRONG_CALLS})

    result = tsc(project, "--noEmit", "--pretty", "false")

    errors = list(TSC_ERROR.finditer(result.stdout))
    assert result.returncode != 0
    assert {Path(match["file"]).name for match in errors} == {"wrong.ts"}, result.stdout
    # Line 4 is the one right call; every line after it is a wrong one.
    assert sorted({int(match["line"]) for match in errors}) == list(range(5, 14)), result.stdout


@pytest.fixture(scope="module")
def round_trip(node_modules, tmp_path_factory) -> tuple[SegmentApi, Path]:
    """Both generated libraries send every event to the local API; its messages are filed
    as Segment's S3 destination would."""
    work = tmp_path_factory.mktemp("round-trip")
    (work / "node").mkdir()
    driver = {"send_every_event.ts": TYPESCRIPT_DRIVER.read_text()}
    project = project_with(work / "node", node_modules, driver)
    compiled = tsc(project, "--outDir", str(project / "dist"))
    assert compiled.returncode == 0, compiled.stdout
    with SegmentApi(SOURCES) as api:
        send_every_event(Client("python-write-key", host=api.url, sync_mode=True))
        subprocess.run(
            ["node", str(project / "dist" / "send_every_event.js"), api.url, "node-write-key"],
            check=True,
            timeout=60,
        )
    return api, api.write_export(work / "bucket")


def test_messages_from_both_languages_pass_the_json_schemas(round_trip):
    api, _ = round_trip

    python, node = (api.received(source) for source in SOURCES.values())

    assert Counter(m["event"] for m in python) == Counter(m["event"] for m in node)
    assert {m["event"] for m in node} == {event.name for event in tracked_events(PLAN)}
    for message in python + node:
        jsonschema.Draft202012Validator(schema_of(message["event"])).validate(message)


@pytest.mark.integration
def test_round_trip_loads_builds_and_passes_the_plan_lint(round_trip, fresh_warehouse):
    api, segment_logs = round_trip
    sent = Counter(
        message["event"] for source in SOURCES.values() for message in api.received(source)
    )

    for command in (["load", "segment", str(segment_logs)], ["transform"], ["plan", "lint"]):
        result = run_cli(*command, target=fresh_warehouse)
        assert result.returncode == 0, f"{command}: {result.stdout[-3000:]}{result.stderr}"

    assert "tracking plan lint: 0 errors, 0 warnings" in result.stdout
    events = query(
        fresh_warehouse,
        "select event_name, count(*) from marts.fct_events where source = 'segment'"
        " group by event_name",
    )
    assert dict(events) == dict(sent)
    org_of_signups = query(
        fresh_warehouse,
        "select org_id from marts.fct_events where event_name = 'User Signed Up'"
        " and org_id is not null",
    )
    assert org_of_signups == [("o-1",), ("o-1",)]  # sent in context.groupId by both
