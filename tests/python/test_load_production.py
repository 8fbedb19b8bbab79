"""The production loader: dlt's sql_database over the reference schema (contract §5)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from loader_fixtures import (
    count,
    query,
    run_cli,
)

from pipelines import warehouse
from pipelines.sources import production

pytestmark = pytest.mark.integration

REFERENCE_SCHEMA = """
create table organizations(id bigint primary key, name text, created_at timestamptz,
    primary_language text, vcs_provider text, updated_at timestamptz);
create table users(id bigint primary key, email text, created_at timestamptz,
    updated_at timestamptz);
create table memberships(id bigint primary key, user_id bigint, organization_id bigint,
    role text, created_at timestamptz, deleted_at timestamptz null, updated_at timestamptz);
create table plans(id text primary key, name text, tier int, monthly_price_cents int);
create table subscription_changes(id bigint primary key, organization_id bigint,
    changed_at timestamptz, from_plan_id text null, to_plan_id text null,
    changed_by_user_id bigint, updated_at timestamptz);
insert into organizations values
    (1, 'Acme', '2024-01-01', 'ruby', 'github', '2024-01-01'),
    (2, 'Beta', '2024-01-02', 'python', 'gitlab', '2024-01-02');
insert into users values (10, 'a@acme.io', '2024-01-01', '2024-01-01');
insert into memberships values (100, 10, 1, 'owner', '2024-01-01', null, '2024-01-01');
insert into plans values ('free', 'Free', 0, 0), ('pro', 'Pro', 1, 4900);
insert into subscription_changes values (1000, 1, '2024-01-05', 'free', 'pro', 10, '2024-01-05');
"""


@pytest.fixture
def production_database() -> Iterator[warehouse.Connection]:
    server = warehouse.connection()
    source = server.with_database(f"production_test_{uuid.uuid4().hex[:10]}")
    warehouse.ensure_database(source)
    with source.cursor() as cursor:
        cursor.execute(REFERENCE_SCHEMA)
    yield source
    warehouse.drop_database(source)


def test_copies_the_reference_tables_and_then_only_changed_rows(
    fresh_warehouse, production_database
):
    first = production.load(production_database.url(), fresh_warehouse)
    with production_database.cursor() as cursor:
        cursor.execute("update organizations set name = 'Acme Inc', updated_at = '2024-02-01'")
        cursor.execute("insert into users values (11, 'b@beta.io', '2024-02-01', '2024-02-01')")
    second = production.load(production_database.url(), fresh_warehouse, ["organizations", "users"])

    assert (first.read, first.loaded) == (7, 7)
    assert (second.read, second.loaded) == (3, 3)
    assert query(
        fresh_warehouse, "select id, name from raw_production.organizations order by id"
    ) == [
        (1, "Acme Inc"),
        (2, "Acme Inc"),
    ]
    assert count(fresh_warehouse, "raw_production.users") == 2
    assert query(
        fresh_warehouse,
        "select organization_id, from_plan_id, to_plan_id, changed_at"
        " from raw_production.subscription_changes",
    )[0][:3] == (1, "free", "pro")
    assert count(fresh_warehouse, "raw_production.plans") == 2


def test_rows_read_again_unchanged_count_as_unchanged_not_loaded(
    fresh_warehouse, production_database
):
    production.load(production_database.url(), fresh_warehouse)
    again = production.load(production_database.url(), fresh_warehouse)
    with production_database.cursor() as cursor:
        cursor.execute("update plans set monthly_price_cents = 5900 where id = 'pro'")
    after_a_price_change = production.load(production_database.url(), fresh_warehouse)

    # `plans` has no updated_at: both plans are read on every run.
    assert (again.read, again.loaded, again.duplicate) == (2, 0, 2)
    assert again.summary() == "production: read 2, loaded 0, unchanged 2, rejected 0"
    assert (after_a_price_change.read, after_a_price_change.loaded) == (2, 1)
    assert query(
        fresh_warehouse, "select id, monthly_price_cents from raw_production.plans order by id"
    ) == [("free", 0), ("pro", 5900)]


def test_cli_an_unreachable_production_database_is_one_line_and_exit_2(fresh_warehouse):
    result = run_cli(
        "load",
        "production",
        "--source-url",
        "postgresql://postgres@127.0.0.1:1/production",
        target=fresh_warehouse,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("analytics: cannot connect to the production database")
    assert len(result.stderr.strip().splitlines()) == 1
