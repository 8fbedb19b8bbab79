"""Runs dlt pipelines into the warehouse's raw schemas."""

from __future__ import annotations

import re

import dlt
from dlt.common.pipeline import LoadInfo

from pipelines import warehouse
from pipelines.warehouse import PROJECT_ROOT

PIPELINES_DIR = PROJECT_ROOT / ".warehouse" / "dlt"


def run(source, raw_schema: str, target: warehouse.Connection) -> LoadInfo:
    """Load `source` into `raw_schema`; dlt keeps incremental state per warehouse database."""
    pipeline = dlt.pipeline(
        pipeline_name=_pipeline_name(raw_schema, target),
        pipelines_dir=str(PIPELINES_DIR),
        destination=dlt.destinations.postgres(credentials=target.dlt_credentials()),
        dataset_name=raw_schema,
    )
    return pipeline.run(source)


def _pipeline_name(raw_schema: str, target: warehouse.Connection) -> str:
    """One dlt working directory per raw schema and warehouse database."""
    location = re.sub(r"[^A-Za-z0-9]+", "_", f"{target.host}_{target.port}_{target.database}")
    return f"{raw_schema}__{location}"
