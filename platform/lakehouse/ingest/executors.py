"""Landing files parsed on Spark's executors: the driver lists the files, the tasks read them.

Each task runs the same reader as the driver-side `read_landing_partition` (`readers.read_file`), so
per-line semantics, lineage columns, `_rescued_data` and quarantine reasons are those of readers.py. A task
emits three kinds of rows in one Arrow stream: bronze rows, quarantine rows and one stats row per file. The
stream is persisted once and split, so every file is read once and no data row passes through the driver;
only the file list goes out and the per-file stats (a few numbers each) come back.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.config import Settings
from lakehouse.ingest.landing import LandingFile, LandingZone
from lakehouse.ingest.readers import FileStats, bronze_schema, read_file
from lakehouse.model.spec import TableSpec
from lakehouse.quality.quarantine import QUARANTINE_SCHEMA
from lakehouse.storage.filesystem import filesystem_for

_KIND, _REASON, _RECORD, _STATS = "__kind", "__reason", "__record", "__stats"
_FILE_FIELDS = ("uri", "path", "size", "source", "entity", "dt", "name")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_TASKS = 512  # files per task grow beyond this many files


def _stream_schema(spec: TableSpec) -> pa.Schema:
    extra = [pa.field(n, pa.string()) for n in (_KIND, _REASON, _RECORD, _STATS)]
    return pa.schema(list(bronze_schema(spec)) + extra)


@dataclass
class BronzeBatch:
    """The parsed days: `rows` and `quarantine` are lazy frames over one persisted parse."""

    rows: DataFrame
    quarantine: DataFrame
    files: list[FileStats]
    nulls: dict[str, dict[str, int]] = field(default_factory=dict)  # dt -> column -> null count
    rows_by_day: dict[str, int] = field(default_factory=dict)
    quarantined_by_day: dict[str, int] = field(default_factory=dict)
    _cached: DataFrame | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._cached is not None:
            self._cached.unpersist()
            self._cached = None


def _parser(fs, declared: list[str], fmt: str, ingested_at: datetime, schema: pa.Schema, counted: list[str]):
    """The function each task runs over its share of the file list (a closure shipped to the executors)."""

    def column(name: str, n: int, values: dict) -> pa.Array:
        f = schema.field(name)
        return values[name] if name in values else pa.nulls(n, f.type)

    def batch(n: int, values: dict) -> pa.RecordBatch:
        return pa.record_batch([column(f.name, n, values) for f in schema], schema=schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for files in batches:
            for f in files.to_pylist():
                file = LandingFile(f["uri"], f["path"], f["size"], _EPOCH, f["source"], f["entity"], f["dt"], f["name"])
                stats, row_batches, rejects = read_file(fs, file, declared, fmt)
                nulls = dict.fromkeys(counted, 0)
                common = lambda n: {"_source_file": pa.array([file.uri] * n, pa.string()),  # noqa: E731
                                    "_ingested_at": pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")),
                                    "dt": pa.array([file.dt] * n, pa.string())}
                for arrays in row_batches:
                    n = len(arrays["_line_number"])
                    for c in counted:
                        nulls[c] += arrays[c].null_count
                    yield batch(n, {**arrays, **common(n), _KIND: pa.array(["row"] * n, pa.string())})
                if rejects:
                    n = len(rejects)
                    yield batch(n, {**common(n), _KIND: pa.array(["quarantine"] * n, pa.string()),
                                    "_source_file": pa.array([r["source_file"] for r in rejects], pa.string()),
                                    "_line_number": pa.array([r["line_number"] for r in rejects], pa.int64()),
                                    _REASON: pa.array([r["reason"] for r in rejects], pa.string()),
                                    _RECORD: pa.array([r["record"] for r in rejects], pa.string())})
                summary = json.dumps({**asdict(stats), "dt": file.dt, "nulls": nulls})
                yield batch(1, {**common(1), _KIND: pa.array(["stats"], pa.string()),
                                _STATS: pa.array([summary], pa.string())})

    return run


def parse_landing(session: SparkSession, settings: Settings, spec: TableSpec, days: list[str],
                  ingested_at: datetime, counted: list[str] = ()) -> BronzeBatch:
    """Parse every landing file of `spec` for `days` on the executors; `counted` columns get null counts.

    Call `release()` on the result once its frames are written."""
    if spec.landing is None:
        raise ValueError(f"{spec.id} has no landing source")
    zone = LandingZone(settings)
    files = [f for dt in days for f in zone.files_for(spec.landing, dt)]
    fs, _ = filesystem_for(settings.landing, settings)  # pyarrow file systems pickle: it travels with the tasks
    schema = _stream_schema(spec)
    declared = [c.name for c in spec.columns]
    listing = session.createDataFrame([tuple(getattr(f, k) for k in _FILE_FIELDS) for f in files],
                                      "uri string, path string, size long, source string, entity string, "
                                      "dt string, name string")
    listing = listing.repartition(max(1, min(len(files), MAX_TASKS)))  # one file per task where possible
    parser = _parser(fs, declared, spec.landing.format, ingested_at, schema, list(counted))
    parsed = listing.mapInArrow(parser, from_arrow_schema(schema)).persist()
    try:
        summaries = [json.loads(r[0]) for r in parsed.where(F.col(_KIND) == "stats").select(_STATS).collect()]
    except Exception:
        parsed.unpersist()
        raise
    out = BronzeBatch(
        rows=parsed.where(F.col(_KIND) == "row").select(*[f.name for f in bronze_schema(spec)]),
        quarantine=parsed.where(F.col(_KIND) == "quarantine").select(
            F.lit(spec.id).alias("source_table"), F.col(_REASON).alias("reason"),
            F.array().cast("array<string>").alias("rules"), F.col("_source_file").alias("source_file"),
            F.col("_line_number").alias("line_number"), F.col(_RECORD).alias("record"),
            F.col("_ingested_at").alias("quarantined_at"), "dt").select(*QUARANTINE_SCHEMA.names),
        files=[], _cached=parsed)
    for s in sorted(summaries, key=lambda s: s["file"]):
        dt, nulls = s.pop("dt"), s.pop("nulls")
        out.files.append(FileStats(**s))
        out.rows_by_day[dt] = out.rows_by_day.get(dt, 0) + s["rows_ok"]
        out.quarantined_by_day[dt] = out.quarantined_by_day.get(dt, 0) + s["rows_quarantined"]
        day = out.nulls.setdefault(dt, {})
        for c, n in nulls.items():
            day[c] = day.get(c, 0) + n
    return out
