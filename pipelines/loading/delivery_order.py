"""Which copy of a message wins: the one received first. `_receipt_order` sorts every
copy by receipt time (Segment `receivedAt`, Amplitude `server_upload_time`), then file and
line, as one text that dlt's merge deduplicates by (`dedup_sort`), so the winner is the
same on every run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.loading.columns import EncodedColumn

# The column that orders the copies of one id within a load: the copy received first
# (`receivedAt`, `server_upload_time`), then the earlier file and line, wins.
RECEIPT_ORDER = "_receipt_order"

# Receipt times as 20 digits of microseconds since 1970 (0 before), a missing one last.
MISSING_RECEIPT = "9" * 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def receipt_order(received: datetime | None, order: str) -> str:
    """The `RECEIPT_ORDER` of one message: its receipt time, then its file and line."""
    if received is None:
        return MISSING_RECEIPT + order
    return f"{max((received - EPOCH) // timedelta(microseconds=1), 0):020d}{order}"


def receipt_orders(received: EncodedColumn, orders: list[str]) -> pa.Array:
    """`receipt_order` of a timestamp column's values and their file-and-line orders."""
    micros = received.values.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    digits = pc.utf8_lpad(pc.max_element_wise(micros, 0).cast(pa.string()), 20, "0")
    return pc.binary_join_element_wise(
        digits.fill_null(MISSING_RECEIPT), pa.array(orders, pa.string()), ""
    )
