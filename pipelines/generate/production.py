"""The production database in the reference schema (contract §5), written with COPY.

Rows go to CSV files as the simulation makes them, never to a list in memory: users and plan
changes are final when made; organizations and memberships change until the last day, so
they are written from the world's state at the end. Each run then drops and recreates the
five tables in schema `public` (a rerun replaces them) and COPYs the files in.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import psycopg2

from pipelines.errors import UserError
from pipelines.generate import catalog
from pipelines.generate.simulation import PlanChange, User, World
from pipelines.generate.timestamps import amplitude_time
from pipelines.warehouse import Connection, ensure_database

TABLES = ("organizations", "users", "memberships", "plans", "subscription_changes")  # FK order
COPY_READ_BYTES = 1 << 20
SCHEMA = """
drop table if exists subscription_changes, memberships, plans, users, organizations;
create table organizations (
    id bigint primary key,
    name text not null,
    created_at timestamptz not null,
    primary_language text,
    vcs_provider text,
    updated_at timestamptz not null
);
create table users (
    id bigint primary key,
    email text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create table memberships (
    id bigint primary key,
    user_id bigint not null references users (id),
    organization_id bigint not null references organizations (id),
    role text not null,
    created_at timestamptz not null,
    deleted_at timestamptz,
    updated_at timestamptz not null
);
create table plans (
    id text primary key,
    name text not null,
    tier int not null,
    monthly_price_cents int not null
);
create table subscription_changes (
    id bigint primary key,
    organization_id bigint not null references organizations (id),
    changed_at timestamptz not null,
    from_plan_id text references plans (id),
    to_plan_id text references plans (id),
    changed_by_user_id bigint references users (id),
    updated_at timestamptz not null
);
"""


def prepare_database(target: Connection) -> None:
    """Create the database if it is missing; a server that refuses is a user error."""
    try:
        ensure_database(target)
    except psycopg2.Error as error:
        raise UserError(f"cannot create the production database {target.url()}: {error}") from None


class ProductionRows:
    """One CSV file per table in `folder`, in COPY's csv format: an unquoted empty field is
    NULL (the data has no empty strings)."""

    def __init__(self, folder: Path) -> None:
        self.paths = {table: folder / f"{table}.csv" for table in TABLES}
        self.counts: Counter[str] = Counter()
        self._files = {table: path.open("w", newline="") for table, path in self.paths.items()}
        self._writers = {
            table: csv.writer(file, lineterminator="\n") for table, file in self._files.items()
        }

    def add_user(self, user: User, created_at: int) -> None:
        self._write("users", (user.id, user.email, _time(created_at), _time(created_at)))

    def add_plan_change(self, change: PlanChange) -> None:
        changed_at = _time(change.changed_at)
        self._write(
            "subscription_changes",
            (
                change.id,
                change.org_id,
                changed_at,
                change.from_plan_id,
                change.to_plan_id,
                change.changed_by_user_id,
                changed_at,
            ),
        )

    def finish(self, world: World) -> None:
        """Write the rows that were still changing, and close the files."""
        for plan in catalog.PLANS:
            self._write("plans", plan)
        for org in world.orgs:
            self._write(
                "organizations",
                (
                    org.id,
                    org.name,
                    _time(org.created_at),
                    org.language,
                    org.vcs_provider if org.vcs_provider_in_production else None,
                    _time(org.updated_at),
                ),
            )
            for membership in org.memberships:
                self._write(
                    "memberships",
                    (
                        membership.id,
                        membership.user.id,
                        membership.org_id,
                        membership.role,
                        _time(membership.created_at),
                        _time(membership.deleted_at),
                        _time(membership.deleted_at or membership.created_at),
                    ),
                )
        for file in self._files.values():
            file.close()

    def _write(self, table: str, row: tuple) -> None:
        self._writers[table].writerow(row)
        self.counts[table] += 1


def write_production(rows: ProductionRows, target: Connection) -> dict[str, int]:
    """Recreate the tables in `target` and COPY the finished files in; return rows per table."""
    connection = target.connect()
    try:
        connection.autocommit = False
        with connection, connection.cursor() as cursor:
            cursor.execute(SCHEMA)
            for table in TABLES:
                with rows.paths[table].open() as file:
                    cursor.copy_expert(
                        f"copy {table} from stdin with (format csv)", file, COPY_READ_BYTES
                    )
    except psycopg2.Error as error:
        raise UserError(f"cannot write the production tables to {target.url()}: {error}") from None
    finally:
        connection.close()
    return {table: rows.counts[table] for table in TABLES}


def _time(us: int | None) -> str | None:
    return None if us is None else amplitude_time(us) + "+00"
