"""Events for the funnel tests, written where the funnel models read them: the stitched
events (`intermediate.int_events_stitched_to_users`), with `marts.fct_events` a view of them
for the data end that fct_funnel_progress reads, so only the funnel models need to run."""

from __future__ import annotations

from psycopg2.extras import Json, execute_values

from pipelines.warehouse import Connection

# What the funnel models read besides the events: int_events_attributed_to_orgs joins the
# memberships (empty: dbt's on-run-start creates the raw table).
UPSTREAM_MODELS = "stg_production__memberships int_events_attributed_to_orgs"


def write_stitched_events(target: Connection, events: list[dict]) -> None:
    """`events`: dicts with event_id, event_name, occurred_at, user_id, org_id and, when
    given, properties."""
    with target.cursor() as cursor:
        cursor.execute("create schema if not exists intermediate")
        cursor.execute(
            """
            create table intermediate.int_events_stitched_to_users (
                event_id text not null, event_name text, source_event_name text, source text,
                occurred_at timestamptz, user_id text, anonymous_id text, org_id text,
                properties jsonb
            )
            """
        )
        execute_values(
            cursor,
            "insert into intermediate.int_events_stitched_to_users values %s",
            [
                (
                    event["event_id"],
                    event["event_name"],
                    event["event_name"],
                    "segment",
                    event["occurred_at"],
                    event["user_id"],
                    None,
                    event["org_id"],
                    Json(event.get("properties", {})),
                )
                for event in events
            ],
        )
        cursor.execute("create schema if not exists marts")
        cursor.execute(
            "create view marts.fct_events as"
            " select * from intermediate.int_events_stitched_to_users"
        )
