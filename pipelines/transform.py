"""Runs dbt against the configured warehouse with the profile in `profiles.example.yml`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.warehouse import EMBEDDED_DIR, PROJECT_ROOT, SESSION_TIME_ZONE, Connection

PROFILE_TEMPLATE = PROJECT_ROOT / "profiles.example.yml"
PROFILES_DIR = EMBEDDED_DIR / "profiles"


def dbt(arguments: Sequence[str], target: Connection) -> int:
    """Run `dbt <arguments>` in the project; return dbt's exit code."""
    return run_dbt(arguments, target).returncode


def write_profile() -> Path:
    """The folder holding the project's profile (profiles.example.yml): dbt's
    `--profiles-dir`, and `DBT_PROFILES_DIR` for MetricFlow's `mf`."""
    PROFILES_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROFILE_TEMPLATE, PROFILES_DIR / "profiles.yml")
    return PROFILES_DIR


def run_dbt(
    arguments: Sequence[str], target: Connection, **run_options
) -> subprocess.CompletedProcess:
    """Run `dbt <arguments>` in the project and return the finished process; `run_options`
    go to `subprocess.run` (e.g. `capture_output=True`)."""
    command = [
        str(Path(sys.executable).parent / "dbt"),
        *arguments,
        "--project-dir",
        str(PROJECT_ROOT),
        "--profiles-dir",
        str(write_profile()),
    ]
    environment = {**os.environ, **target.dbt_environment(), **SESSION_TIME_ZONE}
    return subprocess.run(command, env=environment, cwd=PROJECT_ROOT, **run_options)
