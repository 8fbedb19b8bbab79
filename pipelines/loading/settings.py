"""How dlt runs for these loaders, set once on import: quiet logs with every connection
string masked (`set_verbose` shows them), uncompressed load files of a bounded number of
rows (copied in parallel), `_dlt_load_id` on Arrow tables (the counts select a run's rows by
it), and COPY without dlt's FORCE_NULL, so an empty string stays an empty string."""

from __future__ import annotations

import logging

import dlt
from dlt.destinations.impl.postgres import postgres as dlt_postgres

from pipelines.masking import mask_urls

EXPECTED_NOTICES = (
    "when merging arrow schema",
    "Storage schema was used",
    '"dedup_sort" column hint is only applied when using the "merge" write disposition',
)


class _DltLogFilter(logging.Filter):
    """Masks every connection string in dlt's log records, and drops the notice dlt gives on
    every batch for JSON and timestamp columns that travel as Arrow strings with a `json` or
    `timestamp` hint (the destination stores them as jsonb and timestamptz as intended), and
    the two a load whose tables are appended (`appending`) causes: normalize uses the schema
    that appends them, not the extracted one, and those tables ignore their merge's
    `dedup_sort`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(notice in message for notice in EXPECTED_NOTICES):
            return False
        record.msg, record.args = mask_urls(message), None
        return True


logging.getLogger("dlt").addFilter(_DltLogFilter())
# dlt logs nothing a load handles (one summary line says what happened); `--verbose` shows
# its log, masked.
dlt.config["runtime.log_level"] = "CRITICAL"


def set_verbose(verbose: bool) -> None:
    """Show dlt's progress log (connection strings masked) instead of the summary alone."""
    dlt.config["runtime.log_level"] = "INFO" if verbose else "CRITICAL"
    logging.getLogger("dlt").setLevel(logging.INFO if verbose else logging.CRITICAL)


# dlt's COPY marks every nullable column FORCE_NULL, so a quoted "" became NULL: every
# empty string was lost. Its Python csv writer needs that (it quotes None), but every file
# of these loaders comes from Arrow's csv writer, which quotes each string and leaves null
# unquoted, so `NULL ''` alone tells them apart.
dlt_postgres.is_nullable_column = lambda column: False
# Load files live only until they are copied in: gzipping them took a third of normalize.
dlt.config["data_writer.disable_compression"] = True
# Normalized load files of at most this many rows: dlt copies a table's files into
# PostgreSQL over parallel connections, so a large load's `COPY` uses every core of the
# server instead of one (1,000,000 Segment events: 10 files, one COPY each).
dlt.config["normalize.data_writer.file_max_items"] = 100_000
# Arrow tables get `_dlt_load_id` like rows do: the counts of a run select its rows by it.
dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
