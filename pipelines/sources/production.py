"""dlt source for the production database: dlt's `sql_database` over the reference schema
(contract §5), upserted on `id` into `raw_production`, incremental on `updated_at` where the
table has one (`plans` has none and is small: it is read whole each run). A row read again
that equals the warehouse's copy is left as it is and counted `unchanged`."""

from __future__ import annotations

from typing import Any

import dlt
import sqlalchemy
from dlt.sources.sql_database import sql_database

from pipelines import loading
from pipelines.errors import UserError
from pipelines.loading import LoadReport

SOURCE = "production"
RAW_SCHEMA = "raw_production"
SOURCE_SCHEMA = "public"
TABLES = ["organizations", "users", "memberships", "plans", "subscription_changes"]
INCREMENTAL_CURSOR = "updated_at"


def sqlalchemy_url(source_url: str) -> str:
    """`postgresql://…` through psycopg2 (installed with the warehouse), not SQLAlchemy's
    default driver; other SQLAlchemy URLs pass unchanged."""
    scheme, separator, rest = source_url.partition("://")
    if separator and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg2://{rest}"
    return source_url


def production_source(source_url: str, tables: list[str], schema: str = SOURCE_SCHEMA) -> Any:
    """The chosen production tables, each upserted on `id` (unchanged rows are not written),
    incremental on `updated_at`."""
    source = sql_database(
        credentials=sqlalchemy_url(source_url),
        schema=schema,
        table_names=tables,
        backend="pyarrow",
        reflection_level="full_with_precision",
    )
    for resource in source.resources.values():
        hints: dict[str, Any] = {
            "primary_key": "id",
            "write_disposition": {
                "disposition": "merge",
                "strategy": "upsert",
                "skip_unchanged_rows": True,
            },
        }
        if INCREMENTAL_CURSOR in resource.columns:
            hints["incremental"] = dlt.sources.incremental(INCREMENTAL_CURSOR)
        resource.apply_hints(**hints)
    return source


def load(
    source_url: str,
    target: loading.Target,
    tables: list[str] | None = None,
    schema: str = SOURCE_SCHEMA,
) -> LoadReport:
    """Copy new and changed rows of the production tables into `raw_production`: `loaded`
    counts the rows this run inserted or changed, `unchanged` the others it read."""
    chosen = tables or TABLES
    unknown = sorted(set(chosen) - set(TABLES))
    if unknown:
        raise UserError(f"unknown production table(s) {', '.join(unknown)}; known: {TABLES}")
    _check_reachable(source_url)
    pipeline = loading.pipeline_for(RAW_SCHEMA, target)
    with loading.console.status(f"loading into {RAW_SCHEMA}"):
        loaded = loading.load_packages(
            pipeline, production_source(source_url, chosen, schema), target, TABLES
        )
    read = sum(count for table, count in loaded.row_counts.items() if table in TABLES)
    written = loading.counted_rows(pipeline, target, TABLES, loaded.load_ids, whole_rows=True)
    return LoadReport(
        source=SOURCE,
        read=read,
        loaded=written,
        duplicate=read - written,
        duplicate_label="unchanged",
    )


def _check_reachable(source_url: str) -> None:
    try:
        engine = sqlalchemy.create_engine(sqlalchemy_url(source_url))
        with engine.connect():
            pass
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.DBAPIError, ImportError) as error:
        first_line = str(error.orig if hasattr(error, "orig") else error).strip().splitlines()
        reason = first_line[0] if first_line else type(error).__name__
        raise UserError(f"cannot connect to the production database: {reason}") from None
