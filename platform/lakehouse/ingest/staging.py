"""Where a database export's batches wait for Spark: Parquet files under <warehouse>/_staging/.

The export streams each cursor batch into the day's staging file (one Parquet row group per batch), so the
driver never holds more than one batch; Spark then reads the staged files and publishes the bronze days in
one commit, and the run's staging folder is deleted. A failed attempt's file is deleted before the retry,
so only complete, counted days are ever read. Leftovers of a crashed process sit under `_staging/` (never a
table path) and are safe to delete.
"""
from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq

STAGING = "_staging"


@dataclass(frozen=True)
class Staging:
    uri: str  # file:///... or s3://bucket/...: where this run's files go
    fs: pafs.FileSystem
    path: str  # `uri` inside `fs`

    @classmethod
    def for_run(cls, settings, layer: str, name: str) -> "Staging":
        from lakehouse.storage.filesystem import filesystem_for

        uri = f"{settings.warehouse}/{STAGING}/{layer}/{name}/{uuid.uuid4().hex}"
        fs, path = filesystem_for(uri, settings)
        return cls(uri, fs, path)

    @classmethod
    def local_temp(cls, parent: str | Path | None = None) -> "Staging":
        """A private local folder (under `parent`, else the system's temporary folder), for an export run
        outside an asset (a script, a test)."""
        folder = Path(tempfile.mkdtemp(prefix="lakehouse-staging-", dir=parent))
        return cls(folder.as_uri(), pafs.LocalFileSystem(), str(folder))

    def file(self, dt: str, attempt: int) -> tuple[str, str]:
        """(uri, path in fs) of day dt's file for one export attempt."""
        name = f"{dt}.attempt-{attempt}.parquet"
        return f"{self.uri}/{name}", f"{self.path}/{name}"

    def writer(self, path: str, schema) -> pq.ParquetWriter:
        self.fs.create_dir(self.path, recursive=True)
        return pq.ParquetWriter(path, schema, filesystem=self.fs, compression="zstd")

    def rows_in(self, path: str) -> int:
        """Rows of a staged file, from its Parquet footer."""
        with self.fs.open_input_file(path) as f:
            return pq.ParquetFile(f).metadata.num_rows

    def remove(self, path: str) -> None:
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            pass

    def clear(self) -> None:
        try:
            self.fs.delete_dir(self.path)
        except FileNotFoundError:
            pass
