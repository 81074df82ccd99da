"""What the generators share: CSV and JSON Lines encoders (with the broken lines real exports have) and the
write of one landing file."""
from __future__ import annotations

import csv
import io
import json

from lakehouse.config import Settings
from lakehouse.storage.filesystem import filesystem_for


def csv_bytes(header, rows, truncated=()) -> bytes:
    """A CSV file; rows whose index is in `truncated` are cut short (fewer fields than the header)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    cut = set(truncated)
    for i, row in enumerate(rows):
        values = ["" if v is None else v for v in row]
        if i in cut:  # an export cut short: fewer fields than the header
            buf.write(",".join(str(v) for v in values[: len(values) // 2]) + "\n")
        else:
            writer.writerow(values)
    return buf.getvalue().encode()


def jsonl_bytes(records, broken=()) -> bytes:
    """JSON Lines; records whose index is in `broken` are cut mid-object (invalid JSON)."""
    cut = set(broken)
    lines = []
    for i, rec in enumerate(records):
        text = json.dumps(rec, ensure_ascii=False)
        lines.append(text[: len(text) // 2] if i in cut else text)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def write_landing(settings: Settings, key: str, payload: bytes) -> str:
    """Write `payload` to <landing>/<key>; returns the file's URI."""
    uri = f"{settings.landing.rstrip('/')}/{key}"
    fs, path = filesystem_for(uri, settings)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path, compression=None) as out:  # payloads arrive already compressed
        out.write(payload)
    return uri
