"""What every table write shares, whichever store makes it: the result it reports, the partition guard
(a write replaces exactly the days it names) and retries of storage calls that are safe to repeat."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.errors import LakehouseError
from lakehouse.storage.schemas import PARTITION


class PartitionMismatchError(LakehouseError, ValueError):
    """A batch holds rows for partitions the write was not asked to replace."""

    @classmethod
    def of(cls, table_id: str, partitions, stray: list[str] | None = None) -> "PartitionMismatchError":
        rows = f"rows for {stray}" if stray else "rows"
        return cls(f"table {table_id}: the batch holds {rows}, outside the partitions being written "
                   f"{partitions}; a run may only replace the partitions it was asked for")


@dataclass
class WriteResult:
    uri: str
    format: str
    rows: int
    partitions: list[str]
    version: int | None
    schema: pa.Schema
    added_columns: list[str] = field(default_factory=list)


def check_partitions(table_id: str, data: pa.Table, partitions: Sequence[str]) -> None:
    if PARTITION not in data.column_names:
        raise LakehouseError(f"table {table_id}: the batch has no '{PARTITION}' column")
    present = set(pc.unique(data.column(PARTITION)).to_pylist())
    stray = sorted(str(p) for p in present - set(partitions))
    if stray:
        raise PartitionMismatchError.of(table_id, sorted(partitions), stray)


def with_retries(fn, *args, attempts: int = 4, **kwargs):
    """Retry storage calls on transient errors. delta-rs can surface a throttled or dropped S3 request as a
    DeltaError ("no table metadata found"); an overwrite by predicate is idempotent and a Delta commit is
    atomic, so trying again is safe."""
    from deltalake.exceptions import DeltaError, TableNotFoundError

    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except TableNotFoundError:
            raise
        except (OSError, DeltaError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def in_list(partitions: Sequence[str]) -> str:
    return ", ".join("'" + p.replace("'", "''") + "'" for p in sorted(set(partitions)))

