"""The Spark engine's storage: a lake of Parquet tables that dlt's filesystem destination
writes and Spark reads (contract §10).

`ANALYTICS_ENGINE=spark` (default `postgres`) sends the loaders here instead of to the
warehouse: `<ANALYTICS_LAKE_PATH>/<raw schema>/<table>/<load id>.<file id>.parquet`, a
local folder (default `.lake/` in the project root) or an `s3://` prefix. Plain Parquet has
no merge: every raw table is append-only, and each source's dedup rule (the copy received
first wins; a production row's latest version) applies where dbt's staging models read it
(`macros/cross_db/raw_rows.sql`). So the counts a load reports are the keys it added that
the lake did not hold yet, as on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import dlt
import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs
from dlt.common.schema.typing import C_DLT_LOAD_ID
from dlt.common.schema.utils import get_columns_names_with_prop

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.warehouse import PROJECT_ROOT

ENGINE_VARIABLE = "ANALYTICS_ENGINE"
ENGINES = ("postgres", "spark")
LAKE_PATH_VARIABLE = "ANALYTICS_LAKE_PATH"
DEFAULT_LAKE_PATH = PROJECT_ROOT / ".lake"
# A file the first load writes: the lake's identity, so a lake deleted and made again at the
# same path never inherits the dlt working folder (and the loaded files) of the old one.
LAKE_ID_FILE = "_lake_id"


def engine() -> str:
    """The engine the pipeline runs on: `postgres` (the default) or `spark`."""
    name = os.environ.get(ENGINE_VARIABLE, "").strip().lower() or "postgres"
    if name not in ENGINES:
        raise UserError(f"{ENGINE_VARIABLE}={name}: expected one of {', '.join(ENGINES)}")
    return name


def is_spark() -> bool:
    return engine() == "spark"


def engine_target() -> warehouse.Connection | Lake:
    """Where loads and builds go: the lake on Spark, else the warehouse (checked to answer)."""
    return Lake.from_environment() if is_spark() else warehouse.connection()


@dataclass(frozen=True)
class Lake:
    """The lake at `url`: an absolute local path or an `s3://bucket/prefix`."""

    url: str

    @classmethod
    def from_environment(cls) -> Lake:
        configured = os.environ.get(LAKE_PATH_VARIABLE, "").strip()
        if not configured:
            return cls(str(DEFAULT_LAKE_PATH))
        if "://" in configured:
            return cls(configured.rstrip("/"))
        return cls(os.path.abspath(configured))

    @property
    def is_local(self) -> bool:
        return "://" not in self.url

    def dbt_environment(self) -> dict[str, str]:
        """The variables `profiles.example.yml` reads: the `spark` target (a local session)
        or, with `ANALYTICS_SPARK_METHOD` thrift or http, `spark_server`."""
        method = os.environ.get("ANALYTICS_SPARK_METHOD", "session").strip() or "session"
        return {
            "ANALYTICS_DBT_TARGET": "spark" if method == "session" else "spark_server",
            LAKE_PATH_VARIABLE: self.url,
        }

    def table_url(self, schema: str, table: str) -> str:
        return f"{self.url}/{schema}/{table}"

    def working_folder_name(self) -> str:
        """The dlt working folder of this lake: its path and its identity (`LAKE_ID_FILE`)."""
        return re.sub(r"[^A-Za-z0-9]+", "_", f"lake_{self.url}_{self._identity()}")

    def _identity(self) -> str:
        filesystem, root = fsspec.core.url_to_fs(self.url)
        path = f"{root}/{LAKE_ID_FILE}"
        try:
            if not filesystem.exists(path):
                filesystem.makedirs(root, exist_ok=True)
                filesystem.pipe_file(path, uuid.uuid4().hex.encode())
            return filesystem.cat_file(path).decode().strip()
        except OSError as error:
            raise UserError(f"cannot use the lake at {self.url}: {error}") from None

    def table(self, schema: str, table: str) -> pa.Table | None:
        """Every row of `schema.table` (its files' schemas unified), or None without files."""
        url = self.table_url(schema, table)
        filesystem, folder = pyarrow.fs.FileSystem.from_uri(
            "file://" + url if self.is_local else url
        )
        selector = pyarrow.fs.FileSelector(folder, allow_not_found=True)
        files = [
            info.path
            for info in filesystem.get_file_info(selector)
            if info.is_file and info.path.endswith(".parquet")
        ]
        if not files:
            return None
        schemas = [pads.dataset(file, filesystem=filesystem).schema for file in files]
        unified = pa.unify_schemas(schemas, promote_options="permissive")
        return pads.dataset(files, schema=unified, filesystem=filesystem).to_table()


def column_kinds(pipeline: dlt.Pipeline) -> dict[str, dict[str, str]]:
    """The kinds of the columns the lake's tables hold, from the dlt schema kept in the lake
    (the loaders' kinds are dlt's data types): what `existing_column_kinds` reads from the
    warehouse's catalog on PostgreSQL."""
    pipeline.sync_destination()
    if not pipeline.default_schema_name:
        return {}
    schema = pipeline.default_schema
    return {
        table: {
            name: column["data_type"]
            for name, column in schema.get_table_columns(table).items()
            if "data_type" in column and not name.startswith("_dlt_")
        }
        for table in schema.data_table_names()
    }


def rows_loaded(
    lake: Lake,
    pipeline: dlt.Pipeline,
    tables: Sequence[str],
    load_ids: Sequence[str],
    whole_rows: bool = False,
) -> int:
    """The rows of `tables` that the loads `load_ids` added: the distinct primary keys (or,
    with `whole_rows`, the distinct rows) that no other load wrote. On PostgreSQL the merge
    drops the others; in the append-only lake the staging models do."""
    if not load_ids or not pipeline.default_schema_name:
        return 0
    schema = pipeline.default_schema
    total = 0
    for table in tables:
        if table not in schema.tables:
            continue
        rows = lake.table(pipeline.dataset_name, table)
        if rows is None:
            continue
        keys = (
            [name for name in rows.column_names if not name.startswith("_dlt_")]
            if whole_rows
            else get_columns_names_with_prop(schema.tables[table], "primary_key")
        )
        total += _keys_added(rows.select([*keys, C_DLT_LOAD_ID]), keys, load_ids)
    return total


def _keys_added(rows: pa.Table, keys: list[str], load_ids: Sequence[str]) -> int:
    is_new = pc.is_in(rows[C_DLT_LOAD_ID], pa.array(list(load_ids)))
    added = rows.filter(is_new).group_by(keys).aggregate([])
    before = rows.filter(pc.invert(is_new)).group_by(keys).aggregate([])
    return added.join(before, keys, join_type="left anti").num_rows
