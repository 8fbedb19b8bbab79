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

import pytest

from pipelines import loading, warehouse


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
