"""Integration tests run on a real PostgreSQL: the embedded warehouse by default, or the
server ANALYTICS_WAREHOUSE_URL points at. Each test module (`test_warehouse`) or test
(`fresh_warehouse`) gets a database of its own, dropped afterwards with its dlt state, so
tests never touch the demo data."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import loading, warehouse
from pipelines.demo import WARN_ON_COMPLETENESS
from pipelines.generate import GeneratorConfig, generate
from pipelines.lake import Lake
from pipelines.transform import dbt


@pytest.fixture(scope="session", autouse=True)
def builds_without_unit_tests() -> Iterator[None]:
    """Every dbt build of the suite skips dbt's unit tests, as the scheduled run does:
    test_dbt_unit_tests.py runs them once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_EXCLUDE_RESOURCE_TYPES", "unit_test")
        yield


@contextmanager
def fresh_database() -> Iterator[warehouse.Connection]:
    """An empty database on the configured server, dropped afterwards."""
    server = warehouse.connection()
    target = server.with_database(f"analytics_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(target)
    try:
        yield target
    finally:
        warehouse.drop_database(target)
        for pipeline_dir in loading.PIPELINES_DIR.glob(f"*_{target.database}_*"):
            shutil.rmtree(pipeline_dir)


@dataclass(frozen=True)
class BothEngines:
    """A generated data set and the two empty targets it is loaded into (contract §10)."""

    data: Path
    production: warehouse.Connection
    warehouse: warehouse.Connection
    lake: Lake


@contextmanager
def generated_for_both_engines(tmp_path_factory, config: GeneratorConfig) -> Iterator[BothEngines]:
    """`config`'s data set generated (its production tables in a database of their own),
    with a fresh warehouse database and an empty lake; each dropped afterwards, the lake's
    dlt working folder too."""
    data = tmp_path_factory.mktemp("generated")
    lake = Lake(str(tmp_path_factory.mktemp("lake")))
    with fresh_database() as target:
        production = target.with_database(f"{target.database}_production")
        warehouse.ensure_database(production)
        try:
            generate(data, config, production=production)
            yield BothEngines(data, production, target, lake)
        finally:
            warehouse.drop_database(production)
            shutil.rmtree(loading.PIPELINES_DIR / lake.working_folder_name(), ignore_errors=True)


@pytest.fixture(scope="module")
def test_warehouse() -> Iterator[warehouse.Connection]:
    """A fresh warehouse database shared by the tests of one module."""
    with fresh_database() as target:
        yield target


@pytest.fixture
def fresh_warehouse() -> Iterator[warehouse.Connection]:
    """A fresh warehouse database of its own for one test."""
    with fresh_database() as target:
        yield target


# The demo's story at a size whose charts have several cohorts: signups missing from Amplitude
# for a stretch of days, legacy names, upgrades by language.
BUILT_DATA_SET = GeneratorConfig(seed=7, orgs=60, days=90, signup_drop=0.15)


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Iterator[tuple[warehouse.Connection, dict]]:
    """A warehouse loaded with a generated data set and built by dbt, shared by every test
    that only reads the marts (the query, report, docs, semantic layer and BI tests), with
    the generator's truth."""
    from pipelines.sources import amplitude, production, segment

    data_dir = tmp_path_factory.mktemp("built")
    with fresh_database() as target:
        production_database = target.with_database(f"{target.database}_production")
        warehouse.ensure_database(production_database)
        try:
            truth = generate(data_dir, BUILT_DATA_SET, production=production_database)
            production.load(production_database.url(), target)
        finally:
            warehouse.drop_database(production_database)
        segment.load(data_dir / "segment-logs", target)
        amplitude.load_archives(data_dir / "amplitude", target)
        assert dbt(["build", "--quiet", "--vars", WARN_ON_COMPLETENESS], target) == 0
        yield target, truth
