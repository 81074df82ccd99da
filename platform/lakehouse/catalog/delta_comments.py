"""Column descriptions in a Delta table's own log, where Athena and Trino read them.

Athena and Trino take a Delta table's columns from its log, not from the Glue entry: their DESCRIBE shows the
`comment` in each field's metadata. A batch written with Spark carries the comments into the table's first
commit (`with_comments`); a table created before, written from Arrow, or whose descriptions changed since is
brought up to date by `sync_comments`, one metadata commit per differing column, so an unchanged table costs one
read of its log and no commit.
"""
from __future__ import annotations

from typing import Mapping

from lakehouse.config import Settings
from lakehouse.storage.filesystem import delta_storage_options

COMMENT = "comment"  # the field-metadata key Spark, Delta, Athena and Trino use for a column's description


def with_comments(df, comments: Mapping[str, str]):
    """The Spark DataFrame with each described column's comment in its field metadata, in one projection: each
    `withMetadata` call is an analysis of the whole plan (60-80 ms on silver.orders' model, per column)."""
    from lakehouse.engine.sql import exact_column

    if not any(comments.get(name) for name in df.columns):
        return df
    columns = [(name, exact_column(name)) for name in df.columns]
    return df.select(*[col.alias(name, metadata={COMMENT: comments[name]}) if comments.get(name) else col
                       for name, col in columns])


def sync_comments(uri: str, settings: Settings, comments: Mapping[str, str]) -> list[str]:
    """Write the comments the table's log lacks or holds differently; the columns updated, in schema order."""
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=delta_storage_options(settings, uri))
    stale = [f.name for f in table.schema().fields
             if comments.get(f.name) and (f.metadata or {}).get(COMMENT) != comments[f.name]]
    for name in stale:  # delta-rs updates one field per commit
        table.alter.set_column_metadata(name, {COMMENT: comments[name]})
    return stale
