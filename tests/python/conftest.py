"""Integration tests run on a real PostgreSQL: the embedded warehouse by default, or the
server ANALYTICS_WAREHOUSE_URL points at. Each test module gets a database of its own,
dropped afterwards, so tests never touch the demo data."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from pipelines import loading, warehouse


@pytest.fixture(scope="module")
def test_warehouse() -> Iterator[warehouse.Connection]:
    """A fresh, empty warehouse database on the configured server."""
    server = warehouse.connection()
    target = server.with_database(f"analytics_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(target)
    try:
        yield target
    finally:
        warehouse.drop_database(target)
        for pipeline_dir in loading.PIPELINES_DIR.glob(f"*{target.database}"):
            shutil.rmtree(pipeline_dir)
