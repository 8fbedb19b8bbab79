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
from pipelines.lake import LAKE_PATH_VARIABLE, Lake
from pipelines.transform import DBT_TARGET_DIR, PROFILE_TEMPLATE, run_dbt
from pipelines.warehouse import PROJECT_ROOT, Connection

ANALYSES_DIR = PROJECT_ROOT / "analyses"
COMPILED_ANALYSES_DIR = DBT_TARGET_DIR / "compiled" / "product_analytics" / "analyses"
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


# What Spark may run for `analytics query`: a query, or a look at the catalog. Spark has no
# read-only transaction, so anything else is refused before it runs.
SPARK_READ_KEYWORDS = ("select", "with", "values", "table", "from", "(")
SPARK_CATALOG_KEYWORDS = ("show", "describe", "desc", "explain")
# Parsed plans that write although they start like a query (`with ... insert into`).
SPARK_WRITING_PLANS = ("InsertIntoStatement", "OverwriteByExpression", "AppendData")


@dataclass(frozen=True)
class SparkEngine:
    """Runs a query on the lake's marts in a local Spark session with the `spark` target's
    settings (its catalog in the lake), `marts` the current database; refuses a statement
    that is not a query before Spark runs it."""

    lake: Lake

    def execute(self, statement: str) -> Result:
        words = statement.lstrip().split(None, 1)
        keyword = words[0].lower() if words else ""
        if keyword not in SPARK_READ_KEYWORDS + SPARK_CATALOG_KEYWORDS:
            raise UserError("query failed: analytics query runs read-only queries on Spark")
        session = self._session()
        from pyspark.errors import PySparkException

        try:
            if keyword in SPARK_READ_KEYWORDS:
                plan = session._jsparkSession.sessionState().sqlParser().parsePlan(statement)
                tree = plan.treeString()
                if any(name in tree for name in SPARK_WRITING_PLANS) or _is_command(session, plan):
                    raise UserError("query failed: analytics query runs read-only queries on Spark")
            session.catalog.setCurrentDatabase(MARTS_SCHEMA)
            frame = session.sql(statement)
            rows = frame.collect()
        except PySparkException as error:
            raise UserError(f"query failed: {str(error).strip().splitlines()[0]}") from None
        return Result(list(frame.columns), [tuple(row) for row in rows])

    def _session(self):
        """A local session configured as dbt's `spark` target (profiles.example.yml)."""
        if os.environ.get("ANALYTICS_SPARK_METHOD", "session") not in ("", "session"):
            raise UserError(
                "analytics query on Spark uses a local session; on a Thrift server or "
                "Databricks, query the marts with its own SQL endpoint"
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise UserError("pyspark is not installed: pip install '.[spark]'") from None
        builder = SparkSession.builder.master("local[*]").appName("analytics query")
        for name, value in spark_session_settings(self.lake).items():
            builder = builder.config(name, value)
        return builder.enableHiveSupport().getOrCreate()


def spark_session_settings(lake: Lake) -> dict[str, str]:
    """The `spark` target's `server_side_parameters`, rendered for `lake`: one home for how
    a local session opens the lake, for dbt and for this command alike."""
    import jinja2
    import yaml

    profile = yaml.safe_load(PROFILE_TEMPLATE.read_text())
    parameters = profile["product_analytics"]["outputs"]["spark"]["server_side_parameters"]
    environment = {**os.environ, LAKE_PATH_VARIABLE: lake.url}

    def env_var(name: str, default: str = "") -> str:
        return environment.get(name, default)

    return {
        name: jinja2.Template(str(value)).render(env_var=env_var)
        for name, value in parameters.items()
    }


def _is_command(session, plan) -> bool:
    command = session._jvm.java.lang.Class.forName(
        "org.apache.spark.sql.catalyst.plans.logical.Command"
    )
    return bool(command.isInstance(plan))


def engine(target: Connection | Lake) -> Engine:
    """The engine of `target`: PostgreSQL, or Spark over the lake (`ANALYTICS_ENGINE=spark`)."""
    if isinstance(target, Lake):
        return SparkEngine(target)
    return PostgresEngine(target)


def compile_analysis(name: str, target: Connection | Lake, dbt_vars: str | None = None) -> str:
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
