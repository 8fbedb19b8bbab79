"""`analytics bi start` serves Superset with the bundled dashboards, connected as
analytics_reader; logged in through Superset's API, every chart's data equals the marts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests

pytestmark = pytest.mark.bi

DASHBOARDS = {"funnels": 2, "upgrades": 2, "completeness": 1}

# Each chart's rows from the marts, computed here independently of the chart's definition.
EXPECTED = {
    "Entities reaching each funnel step": """
        select funnel_name, entity_type, step_number, step_name, count(*)
        from marts.fct_funnel_steps group by 1, 2, 3, 4
    """,
    "Conversion by cohort week (last step)": """
        select cohort_week, funnel_name, conversion_from_start
        from marts.rpt_funnel_conversion as conversion
        where step_number = (
            select max(step_number) from marts.rpt_funnel_conversion as steps
            where steps.funnel_name = conversion.funnel_name
        )
    """,
    "Upgraded organizations by primary language": """
        select month, segment_value, sum(upgraded_orgs)
        from marts.rpt_upgrades_by_segment
        where segment_type = 'primary_language' group by 1, 2
    """,
    "Upgrade cohorts: cumulative upgrade rate": """
        select months_since_signup, cohort_month, upgrade_rate from marts.rpt_upgrade_cohorts
    """,
    "Signup completeness by source": """
        select day, source, completeness from marts.rpt_event_completeness
        where check_name = 'signups' and source <> 'any'
    """,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def normalised(value):
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    if isinstance(value, datetime):
        return value.date()
    return value


def as_date_if_epoch(value, like):
    if isinstance(like, date) and isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC).date()
    return value


@pytest.fixture(scope="module")
def superset(built_warehouse, tmp_path_factory):
    target, _ = built_warehouse
    home = tmp_path_factory.mktemp("bi")
    environment = {
        **os.environ,
        "ANALYTICS_WAREHOUSE_URL": target.url(),
        "ANALYTICS_BI_HOME": str(home),
        "ANALYTICS_BI_PORT": str(free_port()),
    }

    def analytics(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", "from pipelines.cli import main; main()", "bi", *arguments],
            capture_output=True,
            text=True,
            env=environment,
            timeout=1800,
        )

    started = analytics("start")
    assert started.returncode == 0, started.stdout + started.stderr
    url = started.stdout.splitlines()[-1].split()[2]
    session = requests.Session()
    login = session.post(
        f"{url}api/v1/security/login",
        json={
            "username": "admin",
            "password": (home / "admin_password").read_text().strip(),
            "provider": "db",
        },
        timeout=30,
    )
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    try:
        yield session, url, analytics
    finally:
        analytics("stop")


def listing(session, url: str, kind: str, columns: list[str]) -> list[dict]:
    query = json.dumps({"columns": columns, "page_size": 100})
    answer = session.get(f"{url}api/v1/{kind}/", params={"q": query}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def chart_rows(session, url: str, chart: dict) -> list[tuple]:
    """The chart's data as Superset's frontend asks for it: its saved params as one query."""
    params = json.loads(chart["params"])
    groupby = params["groupby"] if isinstance(params["groupby"], list) else [params["groupby"]]
    columns = ([params["x_axis"]] if "x_axis" in params else []) + groupby
    metrics = params.get("metrics") or [params["metric"]]
    where = " and ".join(f"({item['sqlExpression']})" for item in params["adhoc_filters"])
    body = {
        "datasource": {"id": chart["datasource_id"], "type": "table"},
        "queries": [
            {
                "columns": columns,
                "metrics": metrics,
                "extras": {"where": where},
                "row_limit": 10000,
            }
        ],
        "result_format": "json",
        "result_type": "full",
    }
    answer = session.post(f"{url}api/v1/chart/data", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["result"]
    labels = columns + [metric["label"] for metric in metrics]
    return [tuple(row[label] for label in labels) for row in result["data"]]


def test_the_bundled_dashboards_are_imported_with_their_charts(superset):
    session, url, _ = superset

    dashboards = listing(session, url, "dashboard", ["id", "slug"])
    charts = {
        dashboard["slug"]: session.get(
            f"{url}api/v1/dashboard/{dashboard['id']}/charts", timeout=30
        ).json()["result"]
        for dashboard in dashboards
    }

    assert {slug: len(found) for slug, found in charts.items()} == DASHBOARDS


def sql_lab(session, url: str, database_id: int, sql: str) -> requests.Response:
    token = session.get(f"{url}api/v1/security/csrf_token/", timeout=30).json()["result"]
    return session.post(
        f"{url}api/v1/sqllab/execute/",
        json={"database_id": database_id, "sql": sql, "runAsync": False, "schema": "marts"},
        headers={"X-CSRFToken": token, "Referer": url},
        timeout=60,
    )


def test_the_warehouse_is_connected_as_the_reader_role_which_cannot_read_raw_data(
    superset, built_warehouse
):
    session, url, _ = superset
    target, _ = built_warehouse
    (database,) = listing(session, url, "database", ["id", "database_name"])

    connection = session.get(f"{url}api/v1/database/{database['id']}/connection", timeout=30)
    marts = sql_lab(session, url, database["id"], "select count(*) as orgs from dim_organizations")
    raw = sql_lab(session, url, database["id"], "select count(*) from raw_segment.tracks")

    assert database["database_name"] == "analytics_warehouse"
    assert connection.json()["result"]["sqlalchemy_uri"] == (
        f"postgresql+psycopg2://analytics_reader@{target.host}:{target.port}/{target.database}"
    )
    assert marts.status_code == 200, marts.text
    assert marts.json()["data"] == [{"orgs": 60}]
    assert "permission denied for schema raw_segment" in raw.text


def test_every_charts_data_equals_the_marts(superset, built_warehouse):
    session, url, _ = superset
    target, _ = built_warehouse
    charts = listing(session, url, "chart", ["id", "slice_name", "params", "datasource_id"])
    assert {chart["slice_name"] for chart in charts} == set(EXPECTED)

    for chart in charts:
        with target.cursor() as cursor:
            cursor.execute(EXPECTED[chart["slice_name"]])
            expected = sorted(tuple(map(normalised, row)) for row in cursor.fetchall())
        assert expected, chart["slice_name"]
        observed = sorted(
            tuple(
                normalised(as_date_if_epoch(value, like))
                for value, like in zip(row, expected[0], strict=True)
            )
            for row in chart_rows(session, url, chart)
        )
        assert observed == expected, chart["slice_name"]


def test_status_then_stop(superset):
    _, url, analytics = superset

    assert analytics("status").stdout == f"Superset running on {url}\n"
    assert analytics("stop").stdout == "stopped\n"
    assert analytics("status").stdout == "Superset stopped\n"
