"""Landing files -> bronze rows: every line kept as received (strings) or quarantined with its reason.

Schema drift is handled the way Auto Loader does it: declared columns a file lacks become null (and are
counted), columns nobody declared go into `_rescued_data` as JSON, so nothing a source sends is lost.
"""
from __future__ import annotations

import csv
import gzip
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

from lakehouse.config import Settings
from lakehouse.ingest.landing import LandingFile, files_for
from lakehouse.quality.quarantine import quarantine_table
from lakehouse.storage.filesystem import filesystem_for
from lakehouse.tables.spec import TableSpec

# Free-text columns (descriptions, payloads) can be large; refuse only what no sane export sends.
csv.field_size_limit(16 * 2**20)

LINEAGE_SCHEMA = [
    pa.field("_rescued_data", pa.string()),
    pa.field("_source_file", pa.string()),
    pa.field("_line_number", pa.int64()),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("dt", pa.string()),
]


@dataclass
class FileStats:
    file: str
    lines_read: int = 0
    rows_ok: int = 0
    rows_quarantined: int = 0
    missing_columns: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class IngestResult:
    table: pa.Table
    quarantine: pa.Table
    files: list[FileStats]


def bronze_schema(spec: TableSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, pa.string()) for c in spec.columns] + LINEAGE_SCHEMA)


class _Collector:
    """Accumulates good rows and quarantined lines of one entity and day."""

    def __init__(self, spec: TableSpec, dt: str):
        self.spec, self.dt = spec, dt
        self.declared = [c.name for c in spec.columns]
        self.rows: dict[str, list] = {name: [] for name in self.declared + ["_rescued_data", "_source_file",
                                                                             "_line_number"]}
        self.bad: list[dict] = []

    def add(self, values: dict, extra: dict, file: LandingFile, line: int, stats: FileStats) -> None:
        for name in self.declared:
            self.rows[name].append(values.get(name))
        self.rows["_rescued_data"].append(json.dumps(extra, sort_keys=True, default=str) if extra else None)
        self.rows["_source_file"].append(file.uri)
        self.rows["_line_number"].append(line)
        stats.rows_ok += 1

    def reject(self, reason: str, file: LandingFile, line: int | None, record: str | None, stats: FileStats):
        self.bad.append({"reason": reason, "source_file": file.uri, "line_number": line, "record": record})
        stats.rows_quarantined += 1


def _decompress(file: LandingFile, raw: bytes) -> bytes:
    if not file.name.endswith(".gz"):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{file.name} ends in .gz but is not a readable gzip file ({exc})") from exc


def _lines(data: bytes):
    """(line number, text or None, raw) per non-empty physical line; None when it is not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, raw.decode("utf-8"), raw
        except UnicodeDecodeError as exc:
            yield number, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)  # nested objects, numbers and booleans as JSON text


def _read_jsonl(out: _Collector, file: LandingFile, data: bytes, stats: FileStats) -> None:
    declared = set(out.declared)
    extras: set[str] = set()
    for number, text, raw in _lines(data):
        stats.lines_read += 1
        if text is None:
            out.reject(f"line is {raw}", file, number, raw if isinstance(raw, str) else None, stats)
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            out.reject(f"invalid JSON: {exc.msg} at column {exc.colno}", file, number, text[:10000], stats)
            continue
        if not isinstance(obj, dict):
            out.reject(f"expected a JSON object, found {type(obj).__name__}", file, number, text[:10000], stats)
            continue
        for name in declared - obj.keys():
            stats.missing_columns[name] = stats.missing_columns.get(name, 0) + 1
        extra = {k: v for k, v in obj.items() if k not in declared}
        extras.update(extra)
        out.add({k: _as_text(obj.get(k)) for k in declared}, extra, file, number, stats)
    stats.extra_columns = sorted(extras)


def _read_csv(out: _Collector, file: LandingFile, data: bytes, stats: FileStats) -> None:
    lines = list(_lines(data))
    if not lines:
        return
    header_no, header_text, _ = lines[0]
    if header_text is None:
        raise ValueError(f"{file.name}: the header line is not valid UTF-8")
    header = [h.strip() for h in next(csv.reader([header_text]))]
    declared = set(out.declared)
    known = [h for h in header if h in declared]
    stats.extra_columns = [h for h in header if h not in declared]
    for name in declared - set(header):
        stats.missing_columns[name] = 0
    no_match = f"header {header_text[:200]!r} names none of the declared columns (wrong delimiter?)" if not known else None
    for number, text, raw in lines[1:]:
        stats.lines_read += 1
        if text is None:
            out.reject(f"line is {raw}", file, number, None, stats)
            continue
        if no_match:
            out.reject(no_match, file, number, text[:10000], stats)
            continue
        try:
            fields = next(csv.reader([text]))
        except csv.Error as exc:
            out.reject(f"unparseable CSV: {exc}", file, number, text[:10000], stats)
            continue
        if len(fields) != len(header):
            out.reject(f"expected {len(header)} fields, found {len(fields)}", file, number, text[:10000], stats)
            continue
        row = dict(zip(header, fields))
        values = {k: (v if v != "" else None) for k, v in row.items() if k in declared}
        for name in declared - set(header):
            stats.missing_columns[name] += 1
        extra = {k: v for k, v in row.items() if k not in declared and v != ""}
        out.add(values, extra, file, number, stats)


def read_file(out: _Collector, file: LandingFile, settings: Settings, fmt: str) -> FileStats:
    stats = FileStats(file.uri)
    try:
        fs, path = filesystem_for(file.uri, settings)
        # compression=None: pyarrow would otherwise inflate .gz itself and hide a broken file's reason
        with fs.open_input_stream(path, compression=None) as stream:
            data = _decompress(file, stream.read())
        (_read_csv if fmt == "csv" else _read_jsonl)(out, file, data, stats)
    except ValueError as exc:  # the file as a whole cannot be read: one quarantine row says why
        stats.error = str(exc)
        out.reject(str(exc), file, None, None, stats)
    return stats


def read_landing_partition(settings: Settings, spec: TableSpec, dt: str,
                           ingested_at: datetime | None = None) -> IngestResult:
    if spec.landing is None:
        raise ValueError(f"{spec.id} has no landing source")
    ingested_at = ingested_at or datetime.now(timezone.utc)
    out = _Collector(spec, dt)
    stats = [read_file(out, f, settings, spec.landing.format) for f in files_for(settings, spec.landing, dt)]
    n = len(out.rows["_source_file"])
    columns = {**out.rows, "_ingested_at": [ingested_at] * n, "dt": [dt] * n}
    table = pa.Table.from_pydict(columns, schema=bronze_schema(spec))
    return IngestResult(table, quarantine_table(spec.id, dt, out.bad, at=ingested_at), stats)
