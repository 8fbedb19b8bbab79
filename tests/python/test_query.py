"""`analytics query` answers read-only, as analytics_reader, in the format asked; a saved
analysis answers the seed's question with the generator's own counts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

LANGUAGES = (
    "select org_id, name, primary_language from {schema}dim_organizations order by 1 limit 3"
)


def analytics(target, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "query", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url()},
    )


def rows(target, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_rows_print_as_json_lines_with_keys_in_column_order(built_warehouse):
    target, _ = built_warehouse

    result = analytics(target, LANGUAGES.format(schema=""))

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(line) for line in lines] == [["org_id", "name", "primary_language"]] * 3
    assert [tuple(line.values()) for line in lines] == rows(
        target, LANGUAGES.format(schema="marts.")
    )


def test_csv_has_a_header_then_the_same_rows(built_warehouse):
    target, _ = built_warehouse

    result = analytics(target, LANGUAGES.format(schema=""), "--format", "csv")

    assert result.returncode == 0, result.stderr
    header, *body = list(csv.reader(result.stdout.splitlines()))
    assert header == ["org_id", "name", "primary_language"]
    assert [tuple(row) for row in body] == rows(target, LANGUAGES.format(schema="marts."))


def test_table_lines_up_columns_and_counts_rows(built_warehouse):
    target, _ = built_warehouse

    result = analytics(target, "select 1 as one, 'two' as second_column", "--format", "table")

    assert result.stdout.splitlines() == [
        "one | second_column",
        "----+--------------",
        "1   | two          ",
        "(1 row)",
    ]


def test_queries_run_as_the_reader_role_which_cannot_read_raw_data(built_warehouse):
    target, _ = built_warehouse

    who = analytics(target, "select current_user as role")
    raw = analytics(target, "select * from raw_segment.tracks limit 1")

    assert json.loads(who.stdout) == {"role": "analytics_reader"}
    assert raw.returncode == 2
    assert raw.stderr == "analytics: query failed: permission denied for schema raw_segment\n"


def test_a_write_is_refused_by_the_read_only_transaction(built_warehouse):
    target, _ = built_warehouse

    result = analytics(target, "delete from marts.fct_events")

    assert result.returncode == 2
    assert "read-only transaction" in result.stderr
    assert rows(target, "select count(*) > 0 from marts.fct_events") == [(True,)]


def test_a_commit_inside_the_statement_cannot_escape_the_reader_role(built_warehouse):
    target, _ = built_warehouse

    result = analytics(target, "commit; create table marts.escaped (a int)")

    assert result.returncode == 2
    assert "permission denied for schema marts" in result.stderr
    assert rows(target, "select to_regclass('marts.escaped') is null") == [(True,)]


def test_the_saved_analysis_gives_the_generators_ruby_and_python_shares(built_warehouse):
    target, truth = built_warehouse
    month = max(truth["upgrades_by_month_and_language"])
    upgrades = truth["upgrades_by_month_and_language"][month]

    result = analytics(
        target,
        "--analysis",
        "upgrades_last_month_ruby_and_python_shares",
        "--vars",
        f"{{analytics__upgrades_month: {month}-01}}",
    )

    assert result.returncode == 0, result.stderr
    answer = {
        line["primary_language"]: line for line in map(json.loads, result.stdout.splitlines())
    }
    assert set(answer) == {"ruby", "python"}
    for language in ("ruby", "python"):
        assert answer[language]["upgraded_orgs"] == upgrades.get(language, 0)
        assert answer[language]["all_upgraded_orgs"] == sum(upgrades.values())
        assert answer[language]["share_of_upgrades"] == pytest.approx(
            upgrades.get(language, 0) / sum(upgrades.values()), abs=1e-6
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--analysis", "no_such_analysis"], "no analysis named no_such_analysis in analyses/"),
        ([], "give either SQL or --analysis NAME"),
        (["select 1", "--analysis", "x"], "give either SQL or --analysis NAME"),
        (["select 1", "--format", "xml"], "Invalid value for '--format'"),
        (["select from nowhere"], 'query failed: relation "nowhere" does not exist'),
    ],
)
def test_expected_failures_are_one_line_and_exit_2(built_warehouse, arguments, message):
    target, _ = built_warehouse

    result = analytics(target, *arguments)

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
