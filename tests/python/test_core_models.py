"""The core marts on a real PostgreSQL, from raw rows written the way the loaders write them.

The module builds once on an empty warehouse (dbt must create the raw tables it reads), then
inserts a small realistic data set and builds again; a late Segment file then arrives and an
incremental run must pick it up and equal a full refresh.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from pipelines.transform import dbt
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration


def insert(target: Connection, table: str, rows: list[dict]) -> None:
    with target.cursor() as cursor:
        for row in rows:
            values = {
                name: json.dumps(value) if isinstance(value, dict | list) else value
                for name, value in row.items()
            }
            columns = ", ".join(f'"{name}"' for name in values)
            placeholders = ", ".join(["%s"] * len(values))
            cursor.execute(
                f"insert into {table} ({columns}) values ({placeholders})", list(values.values())
            )


def query(target: Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def segment_track(message_id: str, event: str, at: str, **fields) -> dict:
    return {
        "id": message_id,
        "event_text": event,
        "event": event.lower().replace(" ", "_"),
        "timestamp": at,
        "original_timestamp": at,
        "sent_at": at,
        "received_at": at,
        "context_library_name": "analytics.js",
        "properties": fields.pop("properties", {}),
        "_source_file": "segment-logs/web-app/1704067200000/part-0000.gz",
        **fields,
    }


def amplitude_event(insert_id: str, event: str, at: str, **fields) -> dict:
    return {
        "insert_id": insert_id,
        "uuid": f"uuid-{insert_id}",
        "event_type": event,
        "event_time": at,
        "server_upload_time": at,
        "client_event_time": at,
        "event_properties": fields.pop("event_properties", {}),
        "groups": fields.pop("groups", {}),
        "platform": "Web",
        "_source_file": "123/123_2024-01-02_10#0.json.gz",
        **fields,
    }


PRODUCTION = {
    "raw_production.plans": [
        {"id": "free", "name": "Free", "tier": 0, "monthly_price_cents": 0},
        {"id": "pro", "name": "Pro", "tier": 1, "monthly_price_cents": 2900},
        {"id": "team", "name": "Team", "tier": 2, "monthly_price_cents": 9900},
    ],
    "raw_production.organizations": [
        {
            "id": 1,
            "name": "Acme",
            "created_at": "2024-01-01T09:00:00Z",
            "primary_language": "ruby",
            "vcs_provider": "github",
            "updated_at": "2024-01-01",
        },
        {
            "id": 2,
            "name": "Globex",
            "created_at": "2024-01-02T09:00:00Z",
            "primary_language": "python",
            "vcs_provider": "gitlab",
            "updated_at": "2024-01-02",
        },
    ],
    "raw_production.users": [
        {"id": 1, "email": "ada@acme.com", "created_at": "2024-01-01T08:59:00Z"},
        {"id": 2, "email": "Bob@Globex.io", "created_at": "2024-01-02T08:59:00Z"},
        {"id": 3, "email": "cy@globex.io", "created_at": "2024-01-02T10:00:00Z"},
    ],
    "raw_production.memberships": [
        {
            "id": 1,
            "user_id": 1,
            "organization_id": 1,
            "role": "owner",
            "created_at": "2024-01-01T09:00:00Z",
        },
        {
            "id": 2,
            "user_id": 2,
            "organization_id": 2,
            "role": "owner",
            "created_at": "2024-01-02T09:00:00Z",
        },
        {
            "id": 3,
            "user_id": 2,
            "organization_id": 1,
            "role": "member",
            "created_at": "2024-01-03T09:00:00Z",
        },
        {
            "id": 4,
            "user_id": 3,
            "organization_id": 2,
            "role": "admin",
            "created_at": "2024-01-02T10:00:00Z",
            "deleted_at": "2024-01-06T00:00:00Z",
        },
    ],
    "raw_production.subscription_changes": [
        {
            "id": 1,
            "organization_id": 1,
            "changed_at": "2024-01-01T09:00:00Z",
            "from_plan_id": None,
            "to_plan_id": "free",
            "changed_by_user_id": 1,
        },
        {
            "id": 2,
            "organization_id": 1,
            "changed_at": "2024-01-04T12:00:00Z",
            "from_plan_id": "free",
            "to_plan_id": "pro",
            "changed_by_user_id": 1,
        },
        {
            "id": 3,
            "organization_id": 2,
            "changed_at": "2024-01-05T12:00:00Z",
            "from_plan_id": None,
            "to_plan_id": "team",
            "changed_by_user_id": 3,
        },
        {
            "id": 4,
            "organization_id": 2,
            "changed_at": "2024-01-07T12:00:00Z",
            "from_plan_id": "team",
            "to_plan_id": "pro",
            "changed_by_user_id": 3,
        },
        {
            "id": 5,
            "organization_id": 2,
            "changed_at": "2024-01-08T12:00:00Z",
            "from_plan_id": "pro",
            "to_plan_id": None,
            "changed_by_user_id": 2,
        },
    ],
}

SEGMENT_TRACKS = [
    # browsing before signing up, on a device identified later as user 1
    segment_track("m-1", "Plan Page Viewed", "2024-01-01T08:50:00Z", anonymous_id="device-a"),
    segment_track(
        "m-2", "User Signed Up", "2024-01-01T08:59:00Z", anonymous_id="device-a", user_id="1"
    ),
    segment_track(
        "m-3",
        "Organization Created",
        "2024-01-01T09:00:00Z",
        anonymous_id="device-a",
        user_id="1",
        properties={"org_id": "1"},
    ),
    # delivered twice (at-least-once)
    segment_track(
        "m-4", "Build Succeeded", "2024-01-02T10:00:00Z", user_id="1", context_group_id="1"
    ),
    segment_track(
        "m-4", "Build Succeeded", "2024-01-02T10:00:00Z", user_id="1", context_group_id="1"
    ),
    # legacy names
    segment_track(
        "m-5", "click-plan-update", "2024-01-04T11:59:00Z", user_id="1", properties={"org_id": "1"}
    ),
    segment_track(
        "m-6",
        "update-plan-clicked",
        "2024-01-05T11:59:00Z",
        user_id="2",
        properties={"org_id": "2"},
    ),
    # a name the plan does not know
    segment_track("m-7", "Confetti Shown", "2024-01-05T12:00:00Z", user_id="2"),
    # on a device identified only by a late file
    segment_track("m-8", "Dashboard Viewed", "2024-01-06T09:00:00Z", anonymous_id="device-b"),
]

SEGMENT_IDENTIFIES = [
    {
        "id": "i-1",
        "anonymous_id": "device-a",
        "user_id": "1",
        "timestamp": "2024-01-01T08:59:00Z",
        "received_at": "2024-01-01T08:59:00Z",
    },
]

AMPLITUDE_EVENTS = [
    # forwarded by Segment: the same event as m-2
    amplitude_event(
        "m-2", "User Signed Up", "2024-01-01T08:59:00Z", user_id="1", device_id="device-a"
    ),
    # only in Amplitude, org as a one-element list
    amplitude_event(
        "amp-1", "Build Started", "2024-01-02T09:59:00Z", user_id="1", groups={"org_id": ["1"]}
    ),
    amplitude_event("amp-2", "Dashboard Viewed", "2024-01-03T10:00:00Z", user_id="2"),
]

# Sent by a device offline for days: an old event, received late.
LATE_TRACK = {
    **segment_track(
        "m-late", "Build Failed", "2024-01-03T15:00:00Z", user_id="2", properties={"org_id": "2"}
    ),
    "received_at": "2024-01-20T00:00:00Z",
}

# Received beyond the lookback of LATE_TRACK, so only the device's changed claims re-stitch m-8.
LATE_IDENTIFY = {
    "id": "i-2",
    "anonymous_id": "device-b",
    "user_id": "3",
    "timestamp": "2024-01-06T09:30:00Z",
    "received_at": "2024-01-25T00:00:00Z",
}

# Segment's copy of m-3 is already built; Amplitude's arrives days later.
LATE_FORWARDED_COPY = {
    **amplitude_event(
        "m-3", "Organization Created", "2024-01-01T09:00:00Z", user_id="1", device_id="device-a"
    ),
    "server_upload_time": "2024-01-20T00:00:00Z",
}

EXPECTED_EVENT_COUNTS = {
    "Plan Page Viewed": 1,
    "User Signed Up": 1,
    "Organization Created": 1,
    "Build Succeeded": 1,
    "Build Started": 1,
    "Dashboard Viewed": 2,
    "Plan Upgrade Clicked": 2,
    "Confetti Shown": 1,
    "Plan Upgraded": 2,
    "Plan Downgraded": 1,
    "Subscription Cancelled": 1,
}

FCT_EVENTS_COLUMNS = (
    "event_id, event_name, source_event_name, source, occurred_at, user_id, anonymous_id, "
    "org_id, properties::text, is_planned, received_at"
)


def all_events(target: Connection) -> list[tuple]:
    return query(target, f"select {FCT_EVENTS_COLUMNS} from marts.fct_events order by event_id")


@pytest.fixture(scope="module")
def empty_build(test_warehouse: Connection) -> int:
    return dbt(["build"], test_warehouse)


@pytest.fixture(scope="module")
def built(test_warehouse: Connection, empty_build: int) -> Connection:
    for table, rows in PRODUCTION.items():
        insert(test_warehouse, table, rows)
    insert(test_warehouse, "raw_segment.tracks", SEGMENT_TRACKS)
    insert(test_warehouse, "raw_segment.identifies", SEGMENT_IDENTIFIES)
    insert(test_warehouse, "raw_amplitude.events", AMPLITUDE_EVENTS)
    # Hand-made events: not every production user sent a signup, which the completeness
    # test rightly flags; here it only warns.
    warn_on_completeness = "{analytics__completeness_severity: warn}"
    assert dbt(["build", "--vars", warn_on_completeness], test_warehouse) == 0
    return test_warehouse


def test_a_fresh_warehouse_builds_with_every_raw_table_created_empty(test_warehouse, empty_build):
    assert empty_build == 0
    tables = query(
        test_warehouse,
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema like 'raw_%' order by 1",
    )
    assert [table for (table,) in tables] == [
        "raw_amplitude.events",
        "raw_production.memberships",
        "raw_production.organizations",
        "raw_production.plans",
        "raw_production.subscription_changes",
        "raw_production.users",
        "raw_segment.aliases",
        "raw_segment.groups",
        "raw_segment.identifies",
        "raw_segment.pages",
        "raw_segment.screens",
        "raw_segment.tracks",
    ]


def test_fct_events_counts_each_real_event_once_under_its_canonical_name(built):
    counts = Counter(
        dict(query(built, "select event_name, count(*) from marts.fct_events group by event_name"))
    )

    assert counts == EXPECTED_EVENT_COUNTS


def test_forwarded_events_keep_the_segment_copy_and_unplanned_names_are_flagged(built):
    rows = dict(query(built, "select event_id, source from marts.fct_events"))
    unplanned = query(built, "select source_event_name from marts.fct_events where not is_planned")

    assert rows["m-2"] == "segment"
    assert rows["amp-1"] == "amplitude"
    assert unplanned == [("Confetti Shown",)]


def test_anonymous_browsing_is_stitched_to_the_user_who_signed_up_on_the_device(built):
    assert query(built, "select user_id from marts.fct_events where event_id = 'm-1'") == [("1",)]


def test_plan_changes_are_typed_by_tier_with_the_role_at_that_moment(built):
    changes = query(
        built,
        "select change_id, change_type, changed_by_role, mrr_delta_cents"
        " from marts.fct_plan_changes order by change_id",
    )

    assert changes == [
        ("1", "new", "owner", 0),
        ("2", "upgrade", "owner", 2900),
        ("3", "upgrade", "admin", 9900),
        ("4", "downgrade", None, -7000),
        ("5", "cancel", "owner", -2900),
    ]


def test_dim_organizations_holds_plans_payers_and_current_members(built):
    organizations = query(
        built,
        "select org_id, current_plan_id, current_plan_tier, is_paying, first_paid_at,"
        " member_count from marts.dim_organizations order by org_id",
    )

    assert organizations == [
        ("1", "pro", 1, True, datetime(2024, 1, 4, 12, tzinfo=UTC), 2),
        ("2", None, 0, False, datetime(2024, 1, 5, 12, tzinfo=UTC), 1),
    ]


def test_dim_users_exposes_the_email_domain_and_never_the_email(built):
    columns = query(
        built,
        "select column_name from information_schema.columns"
        " where table_schema = 'marts' and table_name = 'dim_users'",
    )
    users = query(
        built,
        "select user_id, email_domain, org_count, first_seen_at from marts.dim_users"
        " order by user_id",
    )

    assert "email" not in {name for (name,) in columns}
    assert users == [
        ("1", "acme.com", 1, datetime(2024, 1, 1, 8, 50, tzinfo=UTC)),
        ("2", "globex.io", 2, datetime(2024, 1, 3, 10, tzinfo=UTC)),
        ("3", "globex.io", 0, None),
    ]


def test_late_files_are_applied_by_an_incremental_run_that_equals_a_full_refresh(built):
    insert(built, "raw_segment.tracks", [LATE_TRACK])
    insert(built, "raw_amplitude.events", [LATE_FORWARDED_COPY])
    assert dbt(["build", "--select", "+fct_events"], built) == 0
    insert(built, "raw_segment.identifies", [LATE_IDENTIFY])

    assert dbt(["build", "--select", "+fct_events"], built) == 0
    incremental = all_events(built)
    assert dbt(["build", "--select", "+fct_events", "--full-refresh"], built) == 0

    sources = {row[0]: row[3] for row in incremental}
    users = {row[0]: row[5] for row in incremental}
    assert sources["m-late"] == "segment"
    assert sources["m-3"] == "segment"
    assert users["m-8"] == "3"
    assert incremental == all_events(built)


def test_a_sessions_table_built_before_it_held_its_owners_is_rebuilt_whole(built):
    sessions = "select event_id, session_id from intermediate.int_events_sessionized order by 1"
    assert dbt(["run", "--select", "int_events_sessionized"], built) == 0
    before = query(built, sessions)
    with built.cursor() as cursor:
        cursor.execute(
            "alter table intermediate.int_events_sessionized drop column session_owner_id"
        )

    assert dbt(["run", "--select", "int_events_sessionized"], built) == 0

    assert query(built, sessions) == before
    assert query(
        built,
        "select count(*) from pg_indexes where schemaname = 'intermediate'"
        " and tablename = 'int_events_sessionized' and indexdef like '%session_owner_id%'",
    ) == [(1,)]
