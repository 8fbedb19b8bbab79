"""The differential test of contract §10: one generated data set, loaded and built on both
engines (PostgreSQL; Spark over the Parquet lake in a local session), gives the same rows
in every mart, floats within 1e-9. Needs the `spark` extra and Java 17: `.ci/run` runs it
(-m spark), `make test` leaves it out."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from conftest import generated_for_both_engines

from pipelines import warehouse
from pipelines.generate import GeneratorConfig
from pipelines.lake import Lake
from pipelines.query import SparkEngine
from pipelines.sources import amplitude, production, segment
from pipelines.transform import MANIFEST_PATH, dbt

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install '.[spark]'")

pytestmark = [pytest.mark.spark, pytest.mark.integration]

DATA_SET = GeneratorConfig(seed=11, orgs=6, days=30, signup_drop=0.15)
TOLERANCE = 1e-9
WITHOUT_TESTS = ("--exclude-resource-type", "test", "unit_test")
# Each engine's loaders write their own dlt load ids.
ENGINE_OWN_COLUMNS = {"load_id"}


@dataclass
class Engines:
    warehouse: warehouse.Connection
    lake: Lake
    marts: list[str]


def load_and_build(data, production_url: str, target: warehouse.Connection | Lake) -> None:
    segment.load(data / "segment-logs", target)
    amplitude.load_archives(data / "amplitude", target)
    production.load(production_url, target)
    # The marts are compared, not the data tests: the data set's planted signup gap fails
    # the completeness test on both engines, as it should.
    assert dbt(["build", "--quiet", *WITHOUT_TESTS], target) == 0


def mart_tables() -> list[str]:
    nodes = json.loads(MANIFEST_PATH.read_text())["nodes"].values()
    return sorted(
        node["alias"]
        for node in nodes
        if node["resource_type"] == "model"
        and node["schema"] == "marts"
        and node["config"]["materialized"] in ("table", "incremental")
    )


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> Iterator[Engines]:
    with generated_for_both_engines(tmp_path_factory, DATA_SET) as both:
        load_and_build(both.data, both.production.url(), both.warehouse)
        load_and_build(both.data, both.production.url(), both.lake)
        yield Engines(both.warehouse, both.lake, mart_tables())


def comparable(value: Any) -> Any:
    """A value as both engines can agree on it: UTC times without their zone, numbers as
    floats, JSON text parsed, arrays as lists."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    return value


def same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    return left == right


def sort_key(row: tuple) -> str:
    def text(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, datetime | date):
            return value.isoformat()
        return json.dumps(value, sort_keys=True, default=str)

    return "|".join(text(value) for value in row)


def postgres_rows(target: warehouse.Connection, table: str) -> tuple[list[str], list[tuple]]:
    with target.cursor() as cursor:
        cursor.execute(f'select * from marts."{table}"')
        kept = [i for i, c in enumerate(cursor.description) if c.name not in ENGINE_OWN_COLUMNS]
        columns = [cursor.description[i].name for i in kept]
        return columns, [tuple(row[i] for i in kept) for row in cursor.fetchall()]


def test_every_mart_has_the_same_rows_on_spark_as_on_postgresql(engines):
    spark = SparkEngine(engines.lake)
    differences = []
    assert engines.marts
    for table in engines.marts:
        columns, expected = postgres_rows(engines.warehouse, table)
        result = spark.execute(f"select {', '.join(f'`{name}`' for name in columns)} from {table}")
        wanted = sorted((tuple(map(comparable, row)) for row in expected), key=sort_key)
        found = sorted((tuple(map(comparable, row)) for row in result.rows), key=sort_key)
        if len(wanted) != len(found):
            differences.append(f"{table}: {len(wanted)} rows on PostgreSQL, {len(found)} on Spark")
            continue
        for left, right in zip(wanted, found, strict=True):
            if not all(map(same, left, right)):
                differences.append(f"{table}: {left} on PostgreSQL, {right} on Spark")
                break
    assert not differences, "\n".join(differences)
