"""Reading what the lakehouse published, in a form two runs can be compared by."""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa

RUN_STAMPS = {"_ingested_at", "quarantined_at"}  # when a run happened, not what it published


def table_content(table: str, quarantine: bool = False, partitions: Sequence[str] | None = None) -> pa.Table:
    """Rows of a table (or of its quarantine), run stamps left out, sorted by every column."""
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.resources import LakehouseResource

    lh, spec = LakehouseResource(), get_spec(table)
    where = lh.location(spec)
    uri, fmt = (where.quarantine_uri, where.side_format) if quarantine else (where.uri, where.format)
    data = lh.store().read(uri, fmt, partitions)
    data = data.select([c for c in data.column_names if c not in RUN_STAMPS])
    return data.sort_by([(c, "ascending") for c in data.column_names if c != "rules"])
