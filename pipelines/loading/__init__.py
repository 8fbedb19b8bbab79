"""Runs dlt pipelines into the warehouse's raw schemas, fast and without losing a line.

One module per idea, in the order a line travels:

- `reading`: gzip decompressed as far as it goes, lines in numbered chunks;
- `json_lines`: a chunk's ordinary messages into Arrow columns at once, the others one by one;
- `chunk_workers`: those chunks turned into rows on every core, added in the order read;
- `quarantine`: what cannot be loaded, kept losslessly in `_rejected` with its reason;
- `naming`: table and column names for a name in any script;
- `columns`: how each value is stored (its kind) and typed Arrow columns;
- `delivery_order`: which copy of a message wins (the one received first);
- `batches`: rows buffered per table, bounded in memory, handed to dlt with merge hints;
- `merging`: merges that cost what they load (new keys only, every lookup indexed);
- `appending`: a load whose keys are all new appended instead of merged;
- `property_paths`: the property paths and kinds of each event, seen while reading;
- `postgres_event_views`: Segment's table per event, as PostgreSQL views over `tracks`;
- `counting`: read = loaded + duplicate + rejected, and the progress shown meanwhile;
- `runs`: a load end to end, its dlt state kept in the warehouse (or the lake: `lake`);
- `collection`: fewer garbage collections while a load allocates its messages;
- `settings`: how dlt is set up for all of it (quiet, masked logs; COPY keeping '').

The names below are what the sources, the CLI and the scheduled run use.
"""

from pipelines.loading.batches import MAX_TABLE_COLUMNS, TableBatches, TableHints
from pipelines.loading.chunk_workers import ChunkWorkers, start_chunk_workers
from pipelines.loading.columns import (
    Columns,
    EncodedColumn,
    json_text,
    object_columns,
    timestamp_column,
)
from pipelines.loading.counting import LoadReport, ReadCounter, rows_loaded
from pipelines.loading.delivery_order import RECEIPT_ORDER, receipt_order, receipt_orders
from pipelines.loading.json_lines import JsonLinesFormat, json_lines_items
from pipelines.loading.naming import snake_case
from pipelines.loading.postgres_event_views import refresh_event_views
from pipelines.loading.property_paths import PropertyPaths
from pipelines.loading.quarantine import REJECTED_TABLE
from pipelines.loading.reading import UTF8_BOM, GunzipStream
from pipelines.loading.runs import (
    PIPELINES_DIR,
    Target,
    console,
    counted_rows,
    load_packages,
    pipeline_for,
    run_counted,
    working_folder_name,
)
from pipelines.loading.settings import set_verbose

__all__ = [
    "MAX_TABLE_COLUMNS",
    "PIPELINES_DIR",
    "RECEIPT_ORDER",
    "REJECTED_TABLE",
    "UTF8_BOM",
    "ChunkWorkers",
    "Columns",
    "EncodedColumn",
    "GunzipStream",
    "JsonLinesFormat",
    "LoadReport",
    "PropertyPaths",
    "ReadCounter",
    "TableBatches",
    "TableHints",
    "Target",
    "console",
    "counted_rows",
    "json_lines_items",
    "json_text",
    "load_packages",
    "object_columns",
    "pipeline_for",
    "receipt_order",
    "receipt_orders",
    "refresh_event_views",
    "rows_loaded",
    "run_counted",
    "set_verbose",
    "snake_case",
    "start_chunk_workers",
    "timestamp_column",
    "working_folder_name",
]
