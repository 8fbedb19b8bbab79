"""Runs dbt against the configured warehouse with the profile in `profiles.example.yml`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pipelines.errors import UserError
from pipelines.lake import Lake
from pipelines.masking import mask_urls
from pipelines.warehouse import EMBEDDED_DIR, PROJECT_ROOT, SESSION_TIME_ZONE, Connection

PROFILE_TEMPLATE = PROJECT_ROOT / "profiles.example.yml"
PROFILES_DIR = EMBEDDED_DIR / "profiles"
# dbt's artifacts, written by every dbt command: the manifest, run_results.json (how each
# node of the last command ran), sources.json, compiled SQL.
DBT_TARGET_DIR = PROJECT_ROOT / "target"
MANIFEST_PATH = DBT_TARGET_DIR / "manifest.json"
RUN_RESULTS_PATH = DBT_TARGET_DIR / "run_results.json"
# The scheduled run and the demo build without dbt's unit tests: they check the models' logic
# on fixed inputs, not the data, so they belong to CI (`make test` runs them once), and in a
# build they cost about as much as the models of a day's new data.
WITHOUT_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


def dbt(
    arguments: Sequence[str], target: Connection | Lake, output: Callable[[str], None] | None = None
) -> int:
    """Run `dbt <arguments>` in the project; return dbt's exit code. With `output`, dbt's
    console lines go to it, uncoloured and with every URL's password masked, instead of to
    the terminal."""
    command, environment = _invocation(arguments, target)
    if output is None:
        return subprocess.run(command, env=environment, cwd=PROJECT_ROOT).returncode
    with subprocess.Popen(
        command,
        env={**environment, "DBT_USE_COLORS": "false"},
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout:
            output(mask_urls(line.rstrip("\n")))
    return process.returncode


def run_dbt(
    arguments: Sequence[str], target: Connection | Lake, **run_options
) -> subprocess.CompletedProcess:
    """Run `dbt <arguments>` in the project and return the finished process; `run_options`
    go to `subprocess.run` (e.g. `capture_output=True`)."""
    command, environment = _invocation(arguments, target)
    return subprocess.run(command, env=environment, cwd=PROJECT_ROOT, **run_options)


def write_profile() -> Path:
    """The folder holding the project's profile (profiles.example.yml): dbt's
    `--profiles-dir`, and `DBT_PROFILES_DIR` for MetricFlow's `mf`."""
    PROFILES_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROFILE_TEMPLATE, PROFILES_DIR / "profiles.yml")
    return PROFILES_DIR


def _invocation(arguments: Sequence[str], target: Connection | Lake) -> tuple[list[str], dict]:
    command = [
        str(Path(sys.executable).parent / "dbt"),
        *arguments,
        "--project-dir",
        str(PROJECT_ROOT),
        "--profiles-dir",
        str(write_profile()),
    ]
    return command, {**os.environ, **target.dbt_environment(), **SESSION_TIME_ZONE}


def built_relations(models: Sequence[str], manifest_path: Path = MANIFEST_PATH) -> dict[str, str]:
    """Each model's `"schema"."table"` as dbt's last command named it, for the target that
    command used (`generate_schema_name` decides: `marts` in the default target, a prefixed
    schema in a personal one), so readers query the models that target built."""
    try:
        nodes = json.loads(manifest_path.read_text())["nodes"]
    except (OSError, ValueError, KeyError):
        raise UserError(
            f"no dbt manifest at {manifest_path}: run `analytics transform` first"
        ) from None
    relations = {}
    for model in models:
        node = nodes.get(f"model.product_analytics.{model}")
        if node is None:
            raise UserError(f"dbt's manifest has no model {model}: run `analytics transform`")
        relations[model] = f'"{node["schema"]}"."{node["alias"]}"'
    return relations
