"""dbt's unit tests, run once: every other build of the suite, like the scheduled run,
leaves them out (conftest's `builds_without_unit_tests`)."""

from __future__ import annotations

import json

import pytest

from pipelines.transform import MANIFEST_PATH, RUN_RESULTS_PATH, dbt

pytestmark = pytest.mark.integration


def test_every_dbt_unit_test_passes(built_warehouse, monkeypatch):
    target, _ = built_warehouse
    monkeypatch.delenv("DBT_EXCLUDE_RESOURCE_TYPES")

    assert dbt(["test", "--quiet", "--select", "test_type:unit"], target) == 0

    defined = {
        unique_id
        for unique_id in json.loads(MANIFEST_PATH.read_text())["unit_tests"]
        if unique_id.startswith("unit_test.product_analytics.")
    }
    results = {
        result["unique_id"]: result["status"]
        for result in json.loads(RUN_RESULTS_PATH.read_text())["results"]
        if result["unique_id"].startswith("unit_test.")
    }
    assert set(results) == defined
    assert set(results.values()) == {"pass"}
    assert len(defined) >= 50
