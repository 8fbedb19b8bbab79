"""The marts' indexes serve the queries BI tools send them: by day, by org and by funnel.

Each query below is planned (EXPLAIN, sequential scans priced out so that the small test data
set does not make every plan a scan) and must read the index on the columns named beside it:
a model whose config loses or reorders an index fails here, not in a dashboard."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

# (a BI query, the columns of the index it must read)
QUERIES = {
    "events of one day": (
        "select event_name, count(*) from marts.fct_events"
        " where occurred_at >= timestamptz '2024-03-01' and occurred_at < timestamptz '2024-03-02'"
        " group by event_name",
        ("occurred_at",),
    ),
    "the data end the reports read": (
        "select max(occurred_at) from marts.fct_events",
        ("occurred_at",),
    ),
    "one org's events over a month": (
        "select event_name, count(*) from marts.fct_events"
        " where org_id = '1' and occurred_at >= timestamptz '2024-03-01'"
        " and occurred_at < timestamptz '2024-04-01' group by event_name",
        ("org_id", "occurred_at"),
    ),
    "one funnel's steps": (
        "select step_number, count(*) from marts.fct_funnel_steps"
        " where funnel_name = 'activation' group by step_number",
        ("funnel_name", "step_number"),
    ),
    "one funnel's entrants of a month": (
        "select furthest_step, count(*) from marts.fct_funnel_progress"
        " where funnel_name = 'activation' and entered_at >= timestamptz '2024-03-01'"
        " and entered_at < timestamptz '2024-04-01' group by furthest_step",
        ("funnel_name", "entered_at"),
    ),
    "sessions of one day": (
        "select count(*) from marts.fct_sessions"
        " where started_at >= timestamptz '2024-03-01' and started_at < timestamptz '2024-03-02'",
        ("started_at",),
    ),
    "one org's sessions": (
        "select count(*), sum(event_count) from marts.fct_sessions where org_id = '1'",
        ("org_id", "started_at"),
    ),
    "one org's plan changes": (
        "select * from marts.fct_plan_changes where org_id = '1' order by changed_at",
        ("org_id", "changed_at"),
    ),
    "plan changes of a month": (
        "select change_type, count(*) from marts.fct_plan_changes"
        " where changed_at >= timestamptz '2024-03-01' and changed_at < timestamptz '2024-04-01'"
        " group by change_type",
        ("changed_at",),
    ),
    "one org's row": (
        "select * from marts.dim_organizations where org_id = '1'",
        ("org_id",),
    ),
    "one user's row": (
        "select * from marts.dim_users where user_id = '1'",
        ("user_id",),
    ),
}


def indexes_read(plan: dict) -> set[str]:
    """The names of the indexes a plan (EXPLAIN's JSON node) reads, at any depth."""
    names = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        names |= indexes_read(child)
    return names


@pytest.mark.parametrize("query", QUERIES)
def test_the_bi_query_reads_the_index_on_its_columns(built_warehouse, query):
    target, _ = built_warehouse
    sql, columns = QUERIES[query]
    with target.cursor() as cursor:
        cursor.execute("set enable_seqscan = off")
        cursor.execute(f"explain (format json) {sql}")
        plan = cursor.fetchone()[0][0]["Plan"]
        cursor.execute(
            "select index_class.relname, array_agg(attribute.attname order by key.position)"
            " from pg_index as index"
            " join pg_class as index_class on index_class.oid = index.indexrelid"
            " join pg_namespace as namespace on namespace.oid = index_class.relnamespace"
            " cross join lateral unnest(index.indkey) with ordinality as key(number, position)"
            " join pg_attribute as attribute"
            "   on attribute.attrelid = index.indrelid and attribute.attnum = key.number"
            " where namespace.nspname = 'marts'"
            " group by index_class.relname"
        )
        index_columns = {name: tuple(names) for name, names in cursor.fetchall()}

    read = {index_columns.get(name) for name in indexes_read(plan)}

    assert columns in read, json.dumps(plan, indent=1)
