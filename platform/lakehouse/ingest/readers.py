"""Landing files -> bronze rows: every record kept as received (strings) or quarantined with its reason.

Files are streamed (1 MiB reads, gzip inflated incrementally with a bounded output size), so the memory a
file needs is its parsed rows, never its raw bytes. Every data record ends up either as a bronze row or as a
quarantine row naming the file, the line and the problem:

- per record: a CSV line with the wrong number of fields, a line that is not UTF-8, a JSON line that does
  not parse or is not an object, a line longer than MAX_LINE_BYTES;
- per file: a file that cannot be read at all (`.gz` that is not gzip or is truncated, UTF-16 or binary
  content, a header that is not UTF-8, a name that is not the entity's format) becomes ONE quarantine row
  with the reason and `FileStats.error`; none of its rows are published, since a file broken part-way
  cannot be trusted up to the break either. Re-landing a fixed file and re-running the day replaces it.
  Storage errors (S3 unreachable, permission denied) are not data problems: they raise, and the asset's
  retry policy takes over.

Schema drift is handled the way Auto Loader does it: declared columns a file lacks become null (and are
counted in `missing_columns`); columns nobody declared go into `_rescued_data` as a JSON object, so nothing a
source sends is lost.

Accounting per file without an error: lines_read == rows_ok + rows_quarantined, where lines_read counts data
records: physical lines minus blank lines (and the CSV header). A CSV record whose quoted field spans several
physical lines (RFC 4180) counts once and carries the line number it starts on.
"""
from __future__ import annotations

import csv
import json
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from lakehouse.config import Settings
from lakehouse.errors import LandingFileError
from lakehouse.ingest.landing import LandingFile, LandingZone
from lakehouse.model.spec import TableSpec
from lakehouse.quality.quarantine import quarantine_table
from lakehouse.storage.filesystem import filesystem_for

READ_CHUNK = 1 << 20
MAX_LINE_BYTES = 16 << 20  # a longer line is quarantined (its start kept), not held in memory
MAX_RECORD_LINES = 1000  # a quoted CSV field may span lines, up to this many
BATCH_ROWS = 65_536  # rows are moved from Python lists into Arrow batches this often
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 65_536
FORMAT_SUFFIXES = {"csv": (".csv",), "jsonl": (".jsonl", ".ndjson", ".json")}

csv.field_size_limit(MAX_LINE_BYTES)

LINEAGE_FIELDS = [
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
    return pa.schema([pa.field(c.name, pa.string()) for c in spec.columns] + LINEAGE_FIELDS)


class _Unreadable(LandingFileError):
    """The file as a whole cannot be read; the message completes '<file name> ...'."""


# ---------------------------------------------------------------------------------------------- bytes -> lines

def _raw_chunks(fs: pafs.FileSystem, file: LandingFile) -> Iterator[bytes]:
    path = file.path
    # compression=None: pyarrow would otherwise inflate .gz itself and hide a broken file's reason
    with fs.open_input_stream(path, compression=None) as stream:
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                return
            yield chunk


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate gzip (several members allowed, trailing zero padding tolerated), CRC and length checked."""
    source = iter(chunks)
    pending = b""

    def more(n: int) -> bytes:  # at least n bytes of pending input, unless the file ends first
        nonlocal pending
        while len(pending) < n:
            chunk = next(source, None)
            if chunk is None:
                break
            pending += chunk
        return pending

    head = more(2)
    if not head:
        return
    if head[:2] != GZIP_MAGIC:
        raise _Unreadable(f"ends in .gz but is not a readable gzip file (it starts with {head[:16]!r}, "
                          "not the gzip signature 1f 8b)")
    inflater = zlib.decompressobj(wbits=31)
    while True:
        if not pending and not more(1):
            break
        if inflater.eof:  # one member ended: another one, zero padding, or garbage follows
            if more(2)[:2] == GZIP_MAGIC:
                inflater = zlib.decompressobj(wbits=31)
                continue
            while pending:
                if pending.strip(b"\0"):
                    raise _Unreadable("is not a readable gzip file: unexpected bytes after the end of the "
                                      "compressed data")
                pending = b""
                more(1)
            break
        while True:
            try:
                out = inflater.decompress(pending, READ_CHUNK)
            except zlib.error as exc:
                raise _Unreadable(f"is not a readable gzip file (corrupt compressed data: {exc})") from exc
            pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            if out:
                yield out
            if inflater.eof or (not pending and len(out) < READ_CHUNK):
                break
    if not inflater.eof:
        raise _Unreadable("is not a readable gzip file: it is truncated (the compressed data ends before "
                          "the end-of-stream marker)")


def _check_text(chunks: Iterable[bytes], gz: bool) -> Iterator[bytes]:
    """Refuse content that is not UTF-8 text as a whole, judged by its first 64 KiB."""
    source, head = iter(chunks), b""
    for chunk in source:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Unreadable("is UTF-16 encoded (it starts with a UTF-16 byte-order mark); landing files must be UTF-8")
    if not gz and head.startswith(GZIP_MAGIC):
        raise _Unreadable("is gzip-compressed but its name does not end in .gz; rename it to *.gz")
    if b"\0" in head[:SNIFF_BYTES]:
        raise _Unreadable("contains NUL bytes: it is binary or UTF-16/32, not UTF-8 text")
    if head:
        yield head
    yield from source


class _TooLong:
    """Stands for a physical line longer than MAX_LINE_BYTES; keeps its first bytes for the record."""

    def __init__(self, head: bytes):
        self.head = head


def _physical_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes | _TooLong]]:
    """(1-based line number, line without its \\n or \\r\\n) for every physical line; BOM removed."""
    number, carry, overflow = 0, b"", None
    for chunk in chunks:
        if overflow is not None:  # skipping the rest of a line that is too long
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            number += 1
            yield number, overflow
            overflow, chunk = None, chunk[cut + 1:]
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        for line in parts:
            number += 1
            yield number, _TooLong(line[:2000]) if len(line) > MAX_LINE_BYTES else _clean(line, number)
        if len(carry) > MAX_LINE_BYTES:
            overflow, carry = _TooLong(carry[:2000]), b""
    if overflow is not None:
        yield number + 1, overflow
    elif carry:
        yield number + 1, _clean(carry, number + 1)


def _clean(line: bytes, number: int) -> bytes:
    """Drop the \r of a \r\n ending and, on line 1, a UTF-8 byte-order mark."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if number == 1 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    return line


def _decode(line: bytes) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) for one line."""
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, (f"line is not valid UTF-8 ({exc.reason} at byte {exc.start}: {line[exc.start:exc.start + 4]!r}); "
                      "the file may be Latin-1 or Windows-1252 encoded")


def _lossless(line: bytes) -> str:
    """Text of a line that is not UTF-8, with every undecodable byte kept as a \\xNN escape."""
    return line.decode("utf-8", errors="backslashreplace")


# ------------------------------------------------------------------------------------------------- collector

class _FileRows:
    """Rows and rejects of one file; committed to the partition only when the whole file was read.

    JSONL rows arrive as {column: value}; CSV rows as their list of fields (`add_fields`), kept as lists and
    turned into columns once per batch: per-row work stays a list append, the rest is columnar."""

    def __init__(self, declared: list[str], file: LandingFile, stats: FileStats):
        self.declared, self.file, self.stats = declared, file, stats
        self.names = declared + ["_rescued_data", "_line_number"]
        self.values: dict[str, list] = {n: [] for n in declared}  # JSONL: values per declared column
        self.records: list[list[str]] = []  # CSV: fields per row, in header order
        self.positions: dict[str, int] = {}  # CSV: declared column -> its field's position
        self.rescued: list[str | None] = []
        self.lines: list[int] = []
        self.batches: list[dict[str, pa.Array]] = []
        self.rejects: list[dict] = []

    def add(self, values: dict, rescued: str | None, line: int) -> None:
        for name in self.declared:
            self.values[name].append(values.get(name))
        self.rescued.append(rescued)
        self.lines.append(line)
        if len(self.lines) >= BATCH_ROWS:
            self.flush()

    def add_fields(self, fields: list[str], rescued: str | None, line: int) -> None:
        self.records.append(fields)
        self.rescued.append(rescued)
        self.lines.append(line)
        if len(self.lines) >= BATCH_ROWS:
            self.flush()

    def reject(self, reason: str, line: int | None, record: str | None) -> None:
        self.rejects.append({"reason": reason, "source_file": self.file.uri, "line_number": line, "record": record})
        self.stats.rows_quarantined += 1

    def flush(self) -> None:
        n = len(self.lines)
        if not n:
            return
        arrays = {"_rescued_data": pa.array(self.rescued, pa.string()), "_line_number": pa.array(self.lines, pa.int64())}
        if self.records:
            fields = list(zip(*self.records))
            for name in self.declared:
                at = self.positions.get(name)
                arrays[name] = _empty_as_null(pa.array(fields[at], pa.string())) if at is not None \
                    else pa.nulls(n, pa.string())
        else:
            arrays.update({name: pa.array(v, pa.string()) for name, v in self.values.items()})
        self.batches.append({name: arrays[name] for name in self.names})
        self.stats.rows_ok += n
        self.values = {name: [] for name in self.declared}
        self.records, self.rescued, self.lines = [], [], []

    def arrays(self) -> list[dict[str, pa.Array]]:
        self.flush()
        return self.batches


# ------------------------------------------------------------------------------------------------------ CSV

def _ends_in_quotes(text: str, inside: bool = False) -> bool:
    """Whether a CSV line ends inside a quoted field (RFC 4180; a quote opens a field only at its start)."""
    at_start, i, n = not inside, 0, len(text)
    while i < n:
        c = text[i]
        if inside:
            if c == '"':
                if i + 1 < n and text[i + 1] == '"':
                    i += 2
                    continue
                inside = False
        elif c == '"' and at_start:
            inside = True
        else:
            at_start = c == ","
            i += 1
            continue
        at_start = False
        i += 1
    return inside


class _Lines:
    """Physical lines with push-back, for CSV records that span lines."""

    def __init__(self, lines: Iterator[tuple[int, bytes | _TooLong]]):
        self.lines, self.back = lines, deque()

    def next(self):
        return self.back.popleft() if self.back else next(self.lines, None)

    def push(self, items) -> None:
        self.back.extendleft(reversed(items))


def _csv_records(lines: _Lines) -> Iterator[tuple[int, str | None, str | None]]:
    """(first line number, record text, problem) per non-blank CSV record; text None when `problem`."""
    while (item := lines.next()) is not None:
        number, raw = item
        if isinstance(raw, _TooLong):
            yield number, _lossless(raw.head), f"line is longer than {MAX_LINE_BYTES} bytes (record truncated)"
            continue
        if not raw.strip():
            continue  # blank lines are not records
        text, problem = _decode(raw)
        if problem:
            yield number, _lossless(raw), problem
            continue
        if text.count('"') % 2 and _ends_in_quotes(text):
            taken, parts, size, closed = [], [text], len(raw), False
            while len(taken) < MAX_RECORD_LINES and size <= MAX_LINE_BYTES:
                nxt = lines.next()
                if nxt is None:
                    break
                taken.append(nxt)
                more = nxt[1]
                if isinstance(more, _TooLong):
                    break
                part, bad = _decode(more)
                if bad:
                    break
                parts.append(part)
                size += len(more)
                if not _ends_in_quotes(part, inside=True):
                    closed = True
                    break
            if closed:
                text = "\n".join(parts)
            else:  # never closed: the quote was a stray one; judge the line on its own
                lines.push(taken)
        yield number, text, None


def _parse_csv_record(text: str) -> list[str]:
    if '"' not in text and "\r" not in text:  # what the csv module makes of a line without quotes, faster
        return text.split(",")
    return next(csv.reader([text]), [])


def _empty_as_null(values: pa.Array) -> pa.Array:
    """An empty CSV field is null, as Spark's CSV reader has it."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _read_csv(rows: _FileRows, lines: Iterator[tuple[int, bytes | _TooLong]]) -> None:
    stats, declared = rows.stats, set(rows.declared)
    records = _csv_records(_Lines(lines))
    first = next(records, None)
    if first is None:
        return  # empty file
    _, header_text, problem = first
    if problem:
        raise _Unreadable(f"has a header line that cannot be read: {problem}")
    try:
        raw_header = [h.strip() for h in _parse_csv_record(header_text)]
    except csv.Error as exc:
        raise _Unreadable(f"has a header line that cannot be parsed as CSV: {exc}") from exc
    header, seen = [], set()
    for i, name in enumerate(raw_header):
        if not name:
            name = f"_c{i}"  # Spark's name for an unnamed column
        if name in seen:
            name = f"{name}#{i + 1}"  # a repeated name keeps its value, in _rescued_data
        seen.add(name)
        header.append(name)
    positions = [(i, h) for i, h in enumerate(header) if h in declared]
    extras = [(i, h) for i, h in enumerate(header) if h not in declared]
    stats.extra_columns = [h for _, h in extras]
    absent = [c for c in rows.declared if c not in seen]
    no_match = None
    if not positions:
        no_match = (f"header {header_text[:200]!r} names none of the declared columns "
                    f"({', '.join(rows.declared[:4])}, ...): wrong delimiter or wrong file?")
    width = len(header)
    rows.positions = {h: i for i, h in positions}
    for number, text, problem in records:
        if problem:
            rows.reject(problem, number, text)
            continue
        if no_match:
            rows.reject(no_match, number, text)
            continue
        try:
            fields = _parse_csv_record(text)
        except csv.Error as exc:
            rows.reject(f"unparseable CSV line: {exc}", number, text)
            continue
        if len(fields) != width:
            rows.reject(f"expected {width} fields, found {len(fields)}", number, text)
            continue
        extra = {h: fields[i] for i, h in extras if fields[i] != ""} if extras else None
        rows.add_fields(fields, json.dumps(extra, ensure_ascii=False) if extra else None, number)
    rows.flush()  # rows_ok counts the rows batched so far
    stats.lines_read = stats.rows_ok + stats.rows_quarantined  # every record is one or the other
    stats.missing_columns = {c: stats.rows_ok for c in absent}  # declared but absent: null in every row


# ----------------------------------------------------------------------------------------------------- JSONL

class _Number(str):
    """A JSON number's text exactly as written (1.10 stays '1.10', not 1.1)."""


def _plain(value):
    """Nested values back to plain JSON types, for re-serializing."""
    if isinstance(value, _Number):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # strings, and numbers as written
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(_plain(value), ensure_ascii=False)  # objects and arrays as JSON text


def _json_kind(value) -> str:
    if isinstance(value, _Number):
        return "float"
    return "null" if value is None else type(value).__name__


_DECODER = json.JSONDecoder(parse_float=_Number, parse_constant=_Number)


def _read_jsonl(rows: _FileRows, lines: Iterator[tuple[int, bytes | _TooLong]]) -> None:
    stats, declared = rows.stats, rows.declared
    known = set(declared)
    extras: set[str] = set()
    for number, raw in lines:
        if isinstance(raw, _TooLong):
            stats.lines_read += 1
            rows.reject(f"line is longer than {MAX_LINE_BYTES} bytes (record truncated)", number, _lossless(raw.head))
            continue
        if not raw.strip():
            continue
        stats.lines_read += 1
        text, problem = _decode(raw)
        if problem:
            rows.reject(problem, number, _lossless(raw))
            continue
        try:
            obj = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            rows.reject(f"invalid JSON: {exc.msg} at column {exc.colno}", number, text)
            continue
        if not isinstance(obj, dict):
            rows.reject(f"expected a JSON object, found {_json_kind(obj)}", number, text)
            continue
        for name in declared:
            if name not in obj:
                stats.missing_columns[name] = stats.missing_columns.get(name, 0) + 1
        extra = {k: v for k, v in obj.items() if k not in known}
        extras.update(extra)
        rescued = json.dumps(_plain(extra), ensure_ascii=False) if extra else None
        rows.add({k: _as_text(obj.get(k)) for k in declared}, rescued, number)
    stats.extra_columns = sorted(extras)


# ------------------------------------------------------------------------------------------------ per file

def _format_problem(file: LandingFile, fmt: str) -> str | None:
    name = file.name.lower()
    base = name[:-3] if name.endswith(".gz") else name
    suffixes = FORMAT_SUFFIXES[fmt]
    if base.endswith(suffixes):
        return None
    wanted = " or ".join(f"{s}[.gz]" for s in suffixes)
    return f"is not a {fmt} file: the name should end in {wanted}"


def read_file(fs: pafs.FileSystem, file: LandingFile, declared: list[str], fmt: str
              ) -> tuple[FileStats, list[dict[str, pa.Array]], list[dict]]:
    """One landing file of the landing file system `fs` -> (stats, its row batches, its quarantine entries).

    Runs on the driver (read_landing_partition) or on Spark's executors (ingest.executors) alike."""
    stats = FileStats(file.uri)
    rows = _FileRows(declared, file, stats)
    try:
        problem = _format_problem(file, fmt)
        if problem:
            raise _Unreadable(problem)
        gz = file.name.lower().endswith(".gz")
        chunks = _raw_chunks(fs, file)
        lines = _physical_lines(_check_text(_gunzip(chunks) if gz else chunks, gz))
        (_read_csv if fmt == "csv" else _read_jsonl)(rows, lines)
        return stats, rows.arrays(), rows.rejects
    except _Unreadable as exc:
        reason = f"{file.name} {exc}"
        stats.error = reason
        stats.rows_ok, stats.rows_quarantined = 0, 1
        stats.missing_columns, stats.extra_columns = {}, []
        record = json.dumps({"file": file.uri, "size": file.size})
        return stats, [], [{"reason": reason, "source_file": file.uri, "line_number": None, "record": record}]


def read_landing_partition(settings: Settings, spec: TableSpec, dt: str,
                           ingested_at: datetime | None = None) -> IngestResult:
    """Every landing file of `spec`'s entity for day `dt` -> bronze rows + quarantine rows + per-file stats,
    parsed here in this process: the reference the executors' parse (ingest.executors) is tested against."""
    if spec.landing is None:
        raise ValueError(f"{spec.id} has no landing source")
    ingested_at = ingested_at or datetime.now(timezone.utc)
    if ingested_at.tzinfo is None:
        ingested_at = ingested_at.replace(tzinfo=timezone.utc)
    schema = bronze_schema(spec)
    declared = [c.name for c in spec.columns]
    batches, rejects, stats = [], [], []
    fs, _ = filesystem_for(settings.landing, settings)
    for file in LandingZone(settings).files_for(spec.landing, dt):
        file_stats, file_batches, file_rejects = read_file(fs, file, declared, spec.landing.format)
        stats.append(file_stats)
        rejects.extend(file_rejects)
        for arrays in file_batches:
            n = len(arrays["_line_number"])
            columns = {**arrays,
                       "_source_file": pa.array([file.uri] * n, pa.string()),
                       "_ingested_at": pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")),
                       "dt": pa.array([dt] * n, pa.string())}
            batches.append(pa.record_batch([columns[f.name] for f in schema], schema=schema))
    table = pa.Table.from_batches(batches, schema=schema)
    return IngestResult(table, quarantine_table(spec.id, dt, rejects, at=ingested_at), stats)
