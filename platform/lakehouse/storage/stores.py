"""Tables partitioned by `dt`, stored as Delta or Parquet: which store a run writes with.

SparkStore (spark_store.py, the default) moves a run's rows on Spark: delta-spark / Spark's Parquet writer, S3
through S3A. ArrowStore (arrow_store.py) moves them through Arrow on the driver with delta-rs / pyarrow
(`LAKEHOUSE_STORE=delta-rs`). Both read table metadata through TableMetadata (table_metadata.py), fit a batch
to its table with schemas.py and share writes.py. Either way a write replaces exactly the partitions it names:
Delta in one atomic commit, Parquet by clearing and rewriting the named days (not atomic: Parquet has no log).
New columns are added to the table; a changed column type is refused before anything is written.
"""
from __future__ import annotations

from lakehouse.config import Settings
from lakehouse.storage.arrow_store import ArrowStore
from lakehouse.storage.spark_store import SparkStore


def store_for(settings: Settings) -> ArrowStore | SparkStore:
    """SparkStore unless LAKEHOUSE_STORE=delta-rs asks for the Arrow + delta-rs path (a run's rows then
    cross the driver: kept for comparison and for single-machine use without the Spark JARs)."""
    return ArrowStore(settings) if settings.store == "delta-rs" else SparkStore(settings)

