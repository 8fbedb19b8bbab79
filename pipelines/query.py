"""`analytics query`: a read-only query on the engine in use, printed as JSON lines, CSV or a
table. Saved queries live in `analyses/` and are compiled by dbt first.

The engine sits behind `Engine` (one method), so the Spark engine of contract section 10
slots in beside PostgreSQL without touching the command.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

import orjson
import psycopg2
import psycopg2.errors
from psycopg2 import sql

from pipelines.errors import UserError
from pipelines.transform import run_dbt
from pipelines.warehouse import PROJECT_ROOT, Connection

ENGINE_VARIABLE = "ANALYTICS_ENGINE"
ANALYSES_DIR = PROJECT_ROOT / "analyses"
COMPILED_ANALYSES_DIR = PROJECT_ROOT / "target" / "compiled" / "product_analytics" / "analyses"
READER_ROLE = "analytics_reader"
READER_PASSWORD_VARIABLE = "ANALYTICS_READER_PASSWORD"
MARTS_SCHEMA = "marts"
FORMATS = ("json", "csv", "table")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]


class Engine(Protocol):
    def execute(self, statement: str) -> Result:
        """Run one statement read-only and return its rows."""


@dataclass(frozen=True)
class PostgresEngine:
    """Runs a statement in a read-only transaction as the reader role, with `marts` first
    on the search path.

    It logs in as the role itself (password: ANALYTICS_READER_PASSWORD, if any), so nothing
    in the statement can take more rights than the role has. Where the role cannot log in
    (missing, or no password given), it connects as the configured user and sets the role
    for the transaction, where the user may become it.
    """

    target: Connection
    role: str = READER_ROLE

    def execute(self, statement: str) -> Result:
        connection, logged_in_as_reader = self._connect()
        try:
            connection.autocommit = False
            connection.set_session(readonly=True)
            with connection.cursor() as cursor:
                if not logged_in_as_reader:
                    self._become_reader(cursor)
                cursor.execute(
                    sql.SQL("set local search_path = {}, public").format(
                        sql.Identifier(MARTS_SCHEMA)
                    )
                )
                try:
                    cursor.execute(statement)
                except psycopg2.Error as error:
                    raise UserError(f"query failed: {_first_line(error)}") from None
                if cursor.description is None:
                    return Result([], [])
                return Result([column.name for column in cursor.description], cursor.fetchall())
        finally:
            connection.rollback()
            connection.close()

    def _connect(self) -> tuple[psycopg2.extensions.connection, bool]:
        target = self.target
        reader = Connection(
            target.host,
            target.port,
            self.role,
            os.environ.get(READER_PASSWORD_VARIABLE, ""),
            target.database,
        )
        try:
            return reader.connect(), True
        except UserError:
            return target.connect(), False

    def _become_reader(self, cursor) -> None:
        """Where the role is missing or the user may not become it, stay the user: the
        transaction is read-only all the same."""
        cursor.execute("savepoint become_reader")
        try:
            cursor.execute(sql.SQL("set local role {}").format(sql.Identifier(self.role)))
        except (psycopg2.errors.UndefinedObject, psycopg2.errors.InsufficientPrivilege):
            cursor.execute("rollback to savepoint become_reader")


def engine(target: Connection) -> Engine:
    """The engine `ANALYTICS_ENGINE` names (default `postgres`)."""
    name = os.environ.get(ENGINE_VARIABLE, "postgres")
    if name != "postgres":
        raise UserError(f"{ENGINE_VARIABLE}={name}: analytics query answers on postgres only")
    return PostgresEngine(target)


def compile_analysis(name: str, target: Connection, dbt_vars: str | None = None) -> str:
    """The SQL of `analyses/NAME.sql`, compiled by dbt (refs resolved, vars applied)."""
    if not (ANALYSES_DIR / f"{name}.sql").is_file():
        known = ", ".join(sorted(path.stem for path in ANALYSES_DIR.glob("*.sql")))
        raise UserError(f"no analysis named {name} in analyses/ (there are: {known})")
    arguments = ["compile", "--quiet", "--no-populate-cache", "--select", name]
    if dbt_vars:
        arguments += ["--vars", dbt_vars]
    finished = run_dbt(arguments, target, capture_output=True, text=True)
    if finished.returncode != 0:
        detail = (finished.stdout + finished.stderr).strip().splitlines()
        raise UserError(f"dbt could not compile {name}: {detail[-1] if detail else '?'}")
    return (COMPILED_ANALYSES_DIR / f"{name}.sql").read_text()


def formatted(result: Result, output_format: str) -> Iterator[str]:
    """The rows as lines of text: JSON objects (keys in column order), CSV or a table."""
    if output_format == "json":
        for row in result.rows:
            yield orjson.dumps(dict(zip(result.columns, row, strict=True)), default=_json).decode()
    elif output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_text(value) for value in row] for row in result.rows])
        yield from buffer.getvalue().splitlines()
    else:
        yield from _table(result.columns, [[_text(value) for value in row] for row in result.rows])


def _table(columns: Sequence[str], rows: list[list[str]]) -> Iterator[str]:
    widths = [
        max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)
    ]
    yield " | ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))
    yield "-+-".join("-" * width for width in widths)
    for row in rows:
        yield " | ".join(value.ljust(width) for value, width in zip(row, widths, strict=True))
    yield f"({len(rows)} row{'' if len(rows) == 1 else 's'})"


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, memoryview):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _first_line(error: psycopg2.Error) -> str:
    return (error.pgerror or str(error)).strip().splitlines()[0].removeprefix("ERROR:").strip()
