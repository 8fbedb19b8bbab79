"""Merges that cost what they load, however large the raw tables grow: a message merge
inserts only keys the table does not hold yet (`new_keys_merge`), and every key a load
looks up has an index (`index_lookups`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dlt
from dlt.common.schema.typing import C_DLT_LOAD_ID
from dlt.common.schema.utils import get_columns_names_with_prop, get_write_disposition

from pipelines import warehouse
from pipelines.loading.naming import POSTGRES_NAMING, quoted

# The `destination_scope` that turns dlt's key-matching delete into a no-op.
NOTHING_DELETED = "false"


def new_keys_merge(dataset: str, table: str, keys: list[str]) -> dict[str, Any]:
    """A dlt merge that inserts the staged rows whose key `dataset.table` does not hold yet
    (dlt still deduplicates the staged rows on the key) and deletes nothing.

    The `source_filter` looks each staged key up in the table's key index. Its bare key
    names refer to the staged row, which dlt's insert aliases differently from its delete:
    the table's keys are renamed in a subquery so as not to shadow them. The
    `destination_scope` `false` turns dlt's key-matching delete into a no-op.
    """
    relation = f"{quoted(dataset)}.{quoted(POSTGRES_NAMING.normalize_table_identifier(table))}"
    names = [POSTGRES_NAMING.normalize_identifier(key) for key in keys]
    renamed = ", ".join(f"{quoted(name)} as {quoted('loaded_' + name)}" for name in names)
    matches = " and ".join(f"loaded.{quoted('loaded_' + name)} = {quoted(name)}" for name in names)
    return {
        "disposition": "merge",
        "strategy": "delete-insert",
        "source_filter": (
            f"not exists (select from (select {renamed} from {relation}) as loaded where {matches})"
        ),
        "destination_scope": NOTHING_DELETED,
    }


def is_new_keys_merge(table: dict[str, Any]) -> bool:
    """Whether a dlt table schema merges as `new_keys_merge` makes it: it only inserts."""
    return (
        table.get("write_disposition") == "merge"
        and table.get("x-merge-strategy") == "delete-insert"
        and table.get("x-merge-destination-scope") == NOTHING_DELETED
    )


def index_lookups(
    pipeline: dlt.Pipeline, target: warehouse.Connection, counted_tables: Sequence[str]
) -> None:
    """Index what a load looks up in the tables of `pipeline`'s dataset, so that its cost
    follows the rows it loads, not the rows the tables hold: each merge table's key (dlt's
    merge finds the staged keys in the table) and the `_dlt_load_id` of `counted_tables`.

    Only tables and columns that exist; an index whose leading columns are these already
    (made by a previous load, by dbt or by hand) counts, so after the first time this costs
    two catalog queries.
    """
    schema = pipeline.default_schema
    wanted = [
        (table, tuple(get_columns_names_with_prop(schema.tables[table], "primary_key")))
        for table in schema.data_table_names()
        if get_write_disposition(schema.tables, table) == "merge"
    ]
    wanted += [(table, (C_DLT_LOAD_ID,)) for table in counted_tables]
    dataset = pipeline.dataset_name
    with target.cursor() as cursor:
        columns = {
            table: set(names) for table, names in base_table_columns(cursor, dataset).items()
        }
        cursor.execute(
            "select indexed.relname, array_agg(attribute.attname::text order by key.position)"
            " from pg_index as index"
            " join pg_class as indexed on indexed.oid = index.indrelid"
            " join pg_namespace as namespace on namespace.oid = indexed.relnamespace"
            " cross join lateral unnest(index.indkey) with ordinality as key(number, position)"
            " join pg_attribute as attribute"
            "   on attribute.attrelid = indexed.oid and attribute.attnum = key.number"
            " where namespace.nspname = %s and index.indpred is null"
            " group by index.indexrelid, indexed.relname",
            (dataset,),
        )
        indexed = {(table, tuple(names)) for table, names in cursor.fetchall()}
        for table, keys in wanted:
            if not keys or not set(keys) <= columns.get(table, set()):
                continue
            if any(name == table and found[: len(keys)] == keys for name, found in indexed):
                continue
            cursor.execute(
                f"create index on {quoted(dataset)}.{quoted(table)}"
                f" ({', '.join(map(quoted, keys))})"
            )
            indexed.add((table, keys))


def base_table_columns(cursor, schema: str) -> dict[str, list[str]]:
    """The columns of each table of `schema`, in order; views (Segment's per-event relations)
    are left out: they hold no rows and take no index."""
    cursor.execute(
        "select columns.table_name::text,"
        " array_agg(columns.column_name::text order by columns.ordinal_position)"
        " from information_schema.columns"
        " join information_schema.tables using (table_schema, table_name)"
        " where columns.table_schema = %s and tables.table_type = 'BASE TABLE'"
        " group by columns.table_name",
        (schema,),
    )
    return dict(cursor.fetchall())
