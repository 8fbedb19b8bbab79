"""The Segment loader on a real PostgreSQL: Segment Warehouses tables, dedup on messageId,
incremental by file, quarantined lines, local folders and S3."""

from __future__ import annotations

import pytest
from loader_fixtures import (
    columns,
    count,
    query,
    run_cli,
    segment_message,
    write_segment_file,
)

from pipelines import loading, warehouse
from pipelines.sources import segment

pytestmark = pytest.mark.integration


def test_each_message_type_lands_in_its_segment_warehouses_table(fresh_warehouse, tmp_path):
    write_segment_file(
        tmp_path,
        [
            segment_message(
                "track",
                "t1",
                event="Project Created",
                properties={"org_id": "7", "repo": {"provider": "github"}},
                context={
                    "library": {"name": "analytics.js"},
                    "groupId": "7",
                    "userAgent": "UA",
                    "page": {"path": "/new"},
                },
            ),
            segment_message("identify", "i1", traits={"email": "a@x.io", "plan": "free"}),
            segment_message(
                "identify", "i2", at="2024-01-02T10:00:00.000Z", traits={"plan": "pro"}
            ),
            segment_message(
                "page", "p1", name="Pricing", category="Marketing", properties={"path": "/pricing"}
            ),
            segment_message("screen", "s1", name="Home", properties={}),
            segment_message("group", "g1", groupId="7", traits={"name": "Acme"}),
            segment_message("alias", "a1", previousId="anon-1"),
        ],
    )

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.read, report.loaded, report.duplicate, report.rejected) == (7, 7, 0, 0)
    assert query(
        fresh_warehouse,
        "select id, event, event_text, properties->>'org_id', context_group_id,"
        " context_user_agent, context_page_path, context_library_name from raw_segment.tracks",
    ) == [("t1", "project_created", "Project Created", "7", "7", "UA", "/new", "analytics.js")]
    assert query(
        fresh_warehouse, "select id, org_id, repo_provider from raw_segment.project_created"
    ) == [("t1", "7", "github")]
    assert query(fresh_warehouse, "select id, plan from raw_segment.users") == [("1", "pro")]
    assert count(fresh_warehouse, "raw_segment.identifies") == 2
    assert query(
        fresh_warehouse, "select name, category, properties->>'path' from raw_segment.pages"
    ) == [("Pricing", "Marketing", "/pricing")]
    assert count(fresh_warehouse, "raw_segment.screens") == 1
    assert query(fresh_warehouse, "select group_id, traits->>'name' from raw_segment.groups") == [
        ("7", "Acme")
    ]
    assert query(fresh_warehouse, "select previous_id from raw_segment.aliases") == [("anon-1",)]
    tracks = columns(fresh_warehouse, "raw_segment", "tracks")
    assert tracks["received_at"] == "timestamp with time zone"
    assert tracks["properties"] == "jsonb"
    assert {"id", "anonymous_id", "user_id", "sent_at", "timestamp", "_source_file"} <= set(tracks)


def test_malformed_lines_are_quarantined_with_reasons_and_the_rest_loads(fresh_warehouse, tmp_path):
    path = write_segment_file(
        tmp_path,
        [
            segment_message(message_id="good-1", event="Build Started"),
            '{"type": "track", "messageId": ',
            "[1, 2]",
            segment_message(message_id="no-event"),
            segment_message(message_id="bad-time", event="Build Started", timestamp="yesterday"),
            segment_message("launch", "unknown-type"),
            segment_message(message_id="good-2", event="Build Started"),
        ],
    )

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.read, report.loaded, report.duplicate, report.rejected) == (7, 2, 0, 5)
    assert report.read == report.loaded + report.duplicate + report.rejected
    rejected = query(
        fresh_warehouse,
        "select source, file, line_number, error, load_id is not null"
        " from raw_segment._rejected order by line_number",
    )
    assert [(row[0], row[1], row[2], row[4]) for row in rejected] == [
        ("segment", path.as_uri(), line, True) for line in (2, 3, 4, 5, 6)
    ]
    errors = [row[3] for row in rejected]
    assert "not a JSON object" in errors[1]
    assert "without an event name" in errors[2]
    assert "timestamp is not an ISO 8601 timestamp" in errors[3]
    assert "unknown message type 'launch'" in errors[4]
    assert query(
        fresh_warehouse, "select raw_text from raw_segment._rejected where line_number = 3"
    )
    assert count(fresh_warehouse, "raw_segment.build_started") == 2


def test_a_truncated_file_loads_its_whole_lines_and_rejects_the_rest(fresh_warehouse, tmp_path):
    messages = [segment_message(message_id=f"m{number}", event="X") for number in range(3)]
    path = write_segment_file(tmp_path, messages)
    path.write_bytes(path.read_bytes()[:-12])

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.read, report.rejected) == (report.loaded + 1, 1)
    assert 1 <= report.loaded <= 3
    [(line_number, error)] = query(
        fresh_warehouse, "select line_number, error from raw_segment._rejected"
    )
    assert line_number == report.loaded + 1
    assert error.startswith("unreadable after this line")


def test_duplicates_and_reruns_are_one_row_and_only_new_files_are_read(fresh_warehouse, tmp_path):
    first = segment_message(message_id="m1", event="Build Started")
    write_segment_file(tmp_path, [first, first, segment_message(message_id="m2", event="X")])
    write_segment_file(tmp_path, [first], name="part-0001.gz")

    first_run = segment.load(tmp_path, fresh_warehouse)
    second_run = segment.load(tmp_path, fresh_warehouse)
    write_segment_file(tmp_path, [first, segment_message(message_id="m3", event="X")], "p2.gz")
    third_run = segment.load(tmp_path, fresh_warehouse)

    assert (first_run.read, first_run.loaded, first_run.duplicate) == (4, 2, 2)
    assert second_run.read == 0
    assert (third_run.read, third_run.loaded, third_run.duplicate) == (2, 1, 1)
    assert count(fresh_warehouse, "raw_segment.tracks") == 3
    assert count(fresh_warehouse, "raw_segment.build_started") == 1


def test_a_redelivered_message_id_keeps_its_first_row(fresh_warehouse, tmp_path):
    write_segment_file(
        tmp_path, [segment_message(message_id="m1", event="Build Started", properties={"n": 1})]
    )
    segment.load(tmp_path, fresh_warehouse)
    redelivered = segment_message(message_id="m1", event="Build Started", properties={"n": 2})
    write_segment_file(tmp_path, [redelivered], name="part-0001.gz")

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.read, report.loaded, report.duplicate) == (1, 0, 1)
    assert query(fresh_warehouse, "select properties->>'n' from raw_segment.tracks") == [("1",)]
    assert query(fresh_warehouse, "select n from raw_segment.build_started") == [(1,)]


def index_columns(target: warehouse.Connection, schema: str) -> list[tuple[str, str]]:
    """(table, indexed columns) of every index in `schema`, one row per index."""
    return query(
        target,
        "select table_name.relname, string_agg(attribute.attname, ', ' order by key.position)"
        " from pg_index as index"
        " join pg_class as table_name on table_name.oid = index.indrelid"
        " join pg_namespace as namespace on namespace.oid = table_name.relnamespace"
        " cross join lateral unnest(index.indkey) with ordinality as key(number, position)"
        " join pg_attribute as attribute"
        "   on attribute.attrelid = table_name.oid and attribute.attnum = key.number"
        f" where namespace.nspname = '{schema}' and table_name.relname not like '\\_dlt%'"
        " group by index.indexrelid, table_name.relname order by 1, 2",
    )


def test_each_merge_key_and_counted_load_id_is_indexed_once(fresh_warehouse, tmp_path):
    write_segment_file(
        tmp_path,
        [
            segment_message(event="Build Started"),
            segment_message("identify", traits={"plan": "pro"}),
            "not json",
        ],
    )
    segment.load(tmp_path, fresh_warehouse)
    write_segment_file(tmp_path, [segment_message(event="Build Started")], name="part-0001.gz")
    segment.load(tmp_path, fresh_warehouse)

    # `build_started` is a view over `tracks`: it needs no index of its own.
    assert index_columns(fresh_warehouse, "raw_segment") == [
        ("_event_view_columns", "view_name, position"),
        ("_rejected", "_dlt_id"),  # dlt's own unique index on the row ids of JSON rows
        ("_rejected", "file, line_number"),
        ("identifies", "_dlt_load_id"),
        ("identifies", "id"),
        ("tracks", "_dlt_load_id"),
        ("tracks", "id"),
        ("users", "id"),
    ]


def test_the_merge_looks_staged_ids_up_through_the_id_index(fresh_warehouse, tmp_path):
    # A redelivery within the load: it merges through dlt's staging table.
    redelivered = segment_message(message_id="m1", event="Build Started")
    write_segment_file(tmp_path, [redelivered, redelivered])
    segment.load(tmp_path, fresh_warehouse)
    tracks = loading.pipeline_for("raw_segment", fresh_warehouse).default_schema.tables["tracks"]

    with fresh_warehouse.cursor() as cursor:
        # Forbid scans where an index can serve: a tiny table would be scanned anyway.
        cursor.execute("set enable_seqscan = off")
        cursor.execute(
            "explain (verbose) select * from raw_segment_staging.tracks"
            f" where {tracks['x-merge-source-filter']}"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert tracks["x-merge-destination-scope"] == "false"
    assert "Seq Scan on raw_segment.tracks" not in plan
    assert "Index Only Scan using tracks_id_idx on raw_segment.tracks" in plan


def staged_tracks(target: warehouse.Connection) -> int | None:
    """The rows of dlt's staging table for `tracks` (None: it was never made)."""
    if query(target, "select to_regclass('raw_segment_staging.tracks')") == [(None,)]:
        return None
    return count(target, "raw_segment_staging.tracks")


def test_a_load_of_new_ids_only_is_appended_and_any_other_merges(fresh_warehouse, tmp_path):
    write_segment_file(
        tmp_path, [segment_message(message_id=f"m{n}", event="Build Started") for n in range(3)]
    )
    appended = segment.load(tmp_path, fresh_warehouse)
    assert staged_tracks(fresh_warehouse) is None
    write_segment_file(
        tmp_path, [segment_message(message_id="m3", event="Build Started")], name="part-0001.gz"
    )
    appended_again = segment.load(tmp_path, fresh_warehouse)
    assert staged_tracks(fresh_warehouse) is None
    write_segment_file(
        tmp_path,
        [
            segment_message(message_id="m1", event="Again"),
            segment_message(message_id="m4", event="Build Started"),
        ],
        name="part-0002.gz",
    )
    already_loaded = segment.load(tmp_path, fresh_warehouse)
    assert staged_tracks(fresh_warehouse) == 2
    twice_in_one_load = [segment_message(message_id="m5", event=name) for name in ("A", "B")]
    write_segment_file(tmp_path, twice_in_one_load, name="part-0003.gz")
    redelivered = segment.load(tmp_path, fresh_warehouse)

    assert staged_tracks(fresh_warehouse) == 2
    reports = [appended, appended_again, already_loaded, redelivered]
    assert [(report.loaded, report.duplicate) for report in reports] == [
        (3, 0),
        (1, 0),
        (1, 1),
        (1, 1),
    ]
    assert query(fresh_warehouse, "select id, event_text from raw_segment.tracks order by id") == [
        ("m0", "Build Started"),
        ("m1", "Build Started"),
        ("m2", "Build Started"),
        ("m3", "Build Started"),
        ("m4", "Build Started"),
        ("m5", "A"),
    ]


def test_a_new_property_adds_a_column_and_a_type_conflict_does_not_fail(fresh_warehouse, tmp_path):
    write_segment_file(tmp_path, [segment_message(event="Build Failed", properties={"code": 1})])
    segment.load(tmp_path, fresh_warehouse)
    write_segment_file(
        tmp_path,
        [
            segment_message(event="Build Failed", properties={"code": "E42", "step": "test"}),
            segment_message(event="Build Failed", properties={"code": 3}),
        ],
        name="part-0001.gz",
    )

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.loaded, report.rejected) == (2, 0)
    table = columns(fresh_warehouse, "raw_segment", "build_failed")
    assert table["code"] == "bigint"
    assert table["step"] in ("character varying", "text")
    assert query(
        fresh_warehouse,
        "select code, code__v_text from raw_segment.build_failed order by code nulls first",
    ) == [(None, "E42"), (1, None), (3, None)]


def test_integers_and_decimals_of_one_property_make_one_decimal_column(fresh_warehouse, tmp_path):
    write_segment_file(
        tmp_path,
        [
            segment_message(message_id="r1", event="Build Failed", properties={"ratio": 1}),
            segment_message(message_id="r2", event="Build Failed", properties={"ratio": 0.5}),
        ],
    )

    segment.load(tmp_path, fresh_warehouse)

    assert columns(fresh_warehouse, "raw_segment", "build_failed")["ratio"] == "double precision"
    assert query(fresh_warehouse, "select ratio from raw_segment.build_failed order by id") == [
        (1.0,),
        (0.5,),
    ]


def test_an_event_table_of_an_earlier_loader_becomes_a_view_with_all_its_rows(
    fresh_warehouse, tmp_path
):
    write_segment_file(
        tmp_path, [segment_message(message_id="old", event="Build Failed", properties={"code": 1})]
    )
    segment.load(tmp_path, fresh_warehouse)
    with fresh_warehouse.cursor() as cursor:
        # What an earlier loader left: the event's rows in a table of their own.
        cursor.execute("drop view raw_segment.build_failed")
        cursor.execute("delete from raw_segment._event_view_columns")
        cursor.execute(
            "create table raw_segment.build_failed as select id, 1::bigint as code"
            " from raw_segment.tracks"
        )
    write_segment_file(
        tmp_path,
        [segment_message(message_id="new", event="Build Failed", properties={"step": "test"})],
        name="part-0001.gz",
    )

    segment.load(tmp_path, fresh_warehouse)

    assert query(
        fresh_warehouse,
        "select table_type from information_schema.tables where table_name = 'build_failed'",
    ) == [("VIEW",)]
    assert query(
        fresh_warehouse, "select id, code, step from raw_segment.build_failed order by id"
    ) == [("new", None, "test"), ("old", 1, None)]


def test_loads_into_raw_tables_created_beforehand_from_the_documented_columns(
    fresh_warehouse, tmp_path
):
    common = (
        "id text, anonymous_id text, user_id text, received_at timestamptz, sent_at timestamptz,"
        ' "timestamp" timestamptz, original_timestamp timestamptz, context_library_name text,'
        " context_ip text, context_user_agent text, context_page_url text,"
        " context_page_path text, context_group_id text, _source_file text"
    )
    with fresh_warehouse.cursor() as cursor:
        cursor.execute("create schema raw_segment")
        cursor.execute(
            f"create table raw_segment.tracks ({common}, event text, event_text text,"
            " properties jsonb)"
        )
        cursor.execute(f"create table raw_segment.identifies ({common}, traits jsonb)")
        cursor.execute(
            "create table raw_segment._rejected (source text, file text, line_number bigint,"
            " raw_text text, error text, load_id text)"
        )
    write_segment_file(
        tmp_path,
        [
            segment_message(message_id="t1", event="Build Started", properties={"n": 1}),
            segment_message("identify", "i1", traits={"email": "a@x.io"}),
            "not json",
        ],
    )

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.loaded, report.rejected) == (2, 1)
    assert query(fresh_warehouse, "select id, properties->>'n' from raw_segment.tracks") == [
        ("t1", "1")
    ]
    assert query(fresh_warehouse, "select traits->>'email' from raw_segment.identifies") == [
        ("a@x.io",)
    ]
    assert count(fresh_warehouse, "raw_segment._rejected") == 1
    assert ("tracks", "id") in index_columns(fresh_warehouse, "raw_segment")


def test_cli_prints_counts_and_exits_1_past_the_rejected_share(fresh_warehouse, tmp_path):
    write_segment_file(tmp_path, [segment_message(event="Build Started"), "oops"])

    lenient = run_cli(
        "load", "segment", str(tmp_path), "--max-rejected-share", "0.6", target=fresh_warehouse
    )
    write_segment_file(tmp_path, ["broken"], name="part-0001.gz")
    strict = run_cli("load", "segment", str(tmp_path), target=fresh_warehouse)

    assert lenient.returncode == 0, lenient.stderr
    assert "segment: read 2, loaded 1, duplicate 0, rejected 1" in lenient.stdout
    assert strict.returncode == 1
    assert "segment: read 1, loaded 0, duplicate 0, rejected 1" in strict.stdout
    assert "rejected" in strict.stderr


def test_cli_a_missing_folder_is_one_line_and_exit_2(fresh_warehouse, tmp_path):
    result = run_cli("load", "segment", str(tmp_path / "nowhere"), target=fresh_warehouse)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"analytics: no Segment export folder at {tmp_path / 'nowhere'}"
    ]
