"""The production database in the reference schema (contract §5), written with COPY.

Each run drops and recreates the five tables in schema `public`, so a rerun replaces them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import psycopg2

from pipelines.errors import UserError
from pipelines.generate import catalog
from pipelines.generate.simulation import World
from pipelines.generate.timestamps import amplitude_time
from pipelines.warehouse import Connection, ensure_database

COPY_CHUNK_ROWS = 50_000
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


def write_production(world: World, target: Connection) -> dict[str, int]:
    """Recreate the tables in `target`; return rows per table."""
    tables = _rows(world)
    connection = target.connect()
    try:
        connection.autocommit = False
        with connection, connection.cursor() as cursor:
            cursor.execute(SCHEMA)
            for table, rows in tables.items():
                for start in range(0, len(rows), COPY_CHUNK_ROWS):
                    chunk = _csv(rows[start : start + COPY_CHUNK_ROWS])
                    cursor.copy_expert(f"copy {table} from stdin with (format csv)", chunk)
    except psycopg2.Error as error:
        raise UserError(f"cannot write the production tables to {target.url()}: {error}") from None
    finally:
        connection.close()
    return {table: len(rows) for table, rows in tables.items()}


def _rows(world: World) -> dict[str, list[tuple]]:
    return {
        "organizations": [
            (
                org.id,
                org.name,
                _time(org.created_at),
                org.language,
                org.vcs_provider,
                _time(org.updated_at),
            )
            for org in world.orgs
        ],
        "users": [
            (user.id, user.email, _time(user.created_at), _time(user.created_at))
            for user in world.users
        ],
        "memberships": [
            (
                membership.id,
                membership.user.id,
                membership.org_id,
                membership.role,
                _time(membership.created_at),
                _time(membership.deleted_at),
                _time(membership.deleted_at or membership.created_at),
            )
            for membership in world.memberships
        ],
        "plans": list(catalog.PLANS),
        "subscription_changes": [
            (
                change.id,
                change.org_id,
                _time(change.changed_at),
                change.from_plan_id,
                change.to_plan_id,
                change.changed_by_user_id,
                _time(change.changed_at),
            )
            for change in world.plan_changes
        ],
    }


def _time(us: int | None) -> str | None:
    return None if us is None else amplitude_time(us) + "+00"


def _csv(rows: Iterable[tuple]) -> io.StringIO:
    """CSV for COPY: an unquoted empty field is NULL (the data has no empty strings)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    return buffer
