"""The production tables land in a real PostgreSQL database in the reference schema
(contract §5), recreated on every run; `analytics generate` writes them by default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from pipelines import warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.generate.catalog import PLAN_TIERS

pytestmark = pytest.mark.integration

REFERENCE_SCHEMA = {
    "organizations": [
        ("id", "bigint"),
        ("name", "text"),
        ("created_at", "timestamp with time zone"),
        ("primary_language", "text"),
        ("vcs_provider", "text"),
        ("updated_at", "timestamp with time zone"),
    ],
    "users": [
        ("id", "bigint"),
        ("email", "text"),
        ("created_at", "timestamp with time zone"),
        ("updated_at", "timestamp with time zone"),
    ],
    "memberships": [
        ("id", "bigint"),
        ("user_id", "bigint"),
        ("organization_id", "bigint"),
        ("role", "text"),
        ("created_at", "timestamp with time zone"),
        ("deleted_at", "timestamp with time zone"),
        ("updated_at", "timestamp with time zone"),
    ],
    "plans": [
        ("id", "text"),
        ("name", "text"),
        ("tier", "integer"),
        ("monthly_price_cents", "integer"),
    ],
    "subscription_changes": [
        ("id", "bigint"),
        ("organization_id", "bigint"),
        ("changed_at", "timestamp with time zone"),
        ("from_plan_id", "text"),
        ("to_plan_id", "text"),
        ("changed_by_user_id", "bigint"),
        ("updated_at", "timestamp with time zone"),
    ],
}


@pytest.fixture
def production_database() -> Iterator[warehouse.Connection]:
    """A database of its own on the warehouse server, dropped afterwards."""
    target = warehouse.connection().with_database(
        f"production_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    )
    try:
        yield target
    finally:
        warehouse.drop_database(target)


def query(target: warehouse.Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_production_tables_follow_the_reference_schema_and_match_the_truth(
    production_database, tmp_path
):
    truth = generate(tmp_path, GeneratorConfig(seed=4, orgs=25, days=15), production_database)

    columns = query(
        production_database,
        """select table_name, column_name, data_type from information_schema.columns
           where table_schema = 'public' order by table_name, ordinal_position""",
    )
    schema: dict[str, list] = {}
    for table, column, data_type in columns:
        schema.setdefault(table, []).append((column, data_type))
    assert schema == REFERENCE_SCHEMA
    assert query(production_database, "select count(*) from users") == [(truth["users"],)]
    assert query(production_database, "select count(*) from organizations") == [
        (truth["organizations"],)
    ]
    assert query(production_database, "select count(*) from memberships") == [
        (truth["memberships"],)
    ]
    assert dict(query(production_database, "select id, tier from plans")) == PLAN_TIERS
    assert query(production_database, "select count(*) from subscription_changes") == [
        (sum(truth["plan_changes_by_type"].values()),)
    ]
    assert query(
        production_database,
        "select count(*) from subscription_changes where to_plan_id is null",
    ) == [(truth["plan_changes_by_type"]["cancel"],)]
    billing_payers = query(
        production_database,
        """select count(*) from subscription_changes as changes
           join plans as from_plan on from_plan.id = changes.from_plan_id
           join plans as to_plan on to_plan.id = changes.to_plan_id
           join memberships on memberships.user_id = changes.changed_by_user_id
               and memberships.organization_id = changes.organization_id
           where to_plan.tier > from_plan.tier and memberships.role = 'billing'""",
    )
    assert billing_payers == [(truth["upgrades_paid_by_billing_members"],)]


def test_rerunning_recreates_the_tables_instead_of_adding_rows(production_database, tmp_path):
    generate(tmp_path, GeneratorConfig(seed=4, orgs=25, days=15), production_database)
    truth = generate(tmp_path, GeneratorConfig(seed=5, orgs=10, days=5), production_database)

    assert query(production_database, "select count(*) from organizations") == [(10,)]
    assert query(production_database, "select count(*) from users") == [(truth["users"],)]


def test_cli_generate_writes_files_truth_and_production_tables(production_database, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipelines.cli import main; main()",
            "generate",
            "--out",
            str(tmp_path),
            "--orgs",
            "8",
            "--days",
            "5",
            "--end-date",
            "2024-01-05",
            "--production-url",
            production_database.url(),
        ],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["organizations"] == 8
    assert (truth["start_date"], truth["end_date"]) == ("2024-01-01", "2024-01-05")
    assert (tmp_path / "segment-logs" / "web-app").is_dir()
    assert any((tmp_path / "amplitude").glob("187520_2024-01-0*.zip"))
    assert query(production_database, "select count(*) from organizations") == [(8,)]


def test_cli_generate_with_an_unreachable_production_database_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipelines.cli import main; main()",
            "generate",
            "--out",
            str(tmp_path),
            "--orgs",
            "2",
            "--days",
            "2",
            "--production-url",
            "postgresql://nobody@127.0.0.1:1/production",
        ],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("analytics: cannot connect to postgresql://nobody@127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1
