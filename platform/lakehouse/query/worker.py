"""A query worker: a process that runs the LocalJobs a pool sends it, one at a time, each under an address-space
cap, and answers with the rows as an Arrow stream or with the query's one-line error.

`python -m lakehouse.query.worker FD`, started by lakehouse.query.pool: FD is this end of a socket pair. The cap
(RLIMIT_AS) is set for each job to the worker's own size when it was ready plus the query's memory limit plus
MARGIN_MB; no allocation past it succeeds, so a query DuckDB's own memory limit does not see (one huge string, a
list function) fails with an out-of-memory error or ends this process, never the host. The pool kills the process
when the statement timeout passes without an answer.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import tempfile
from multiprocessing.connection import Connection

# What a worker's address space grows by over normal queries on top of its size when ready (measured: DuckDB's
# and Arrow's thread stacks and allocator arenas, the Delta log reader's runtime, a 50 MB result's buffers took
# 100-250 MB), so the limit a query gets is close to LAKEHOUSE_QUERY_MEMORY_MB. A worker that stays larger than
# this after a job is replaced, so the next job's cap still means the same.
MARGIN_MB = 256


def _status(*names: str) -> dict[str, float]:
    """Fields of /proc/self/status in megabytes (VmSize: address space, VmHWM: peak resident memory)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in names:
                found[key] = int(value.split()[0]) / 1024
    return found


def _reset_peak() -> None:
    try:  # "5" resets VmHWM, so each job reports its own peak (Linux 4.0+)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _die_with_parent() -> None:
    """Ask the kernel to kill this worker when the process that started it ends (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _warm_up() -> None:
    """Run one query over a one-row Delta table, so the worker's size when ready includes what every query
    starts (DuckDB, Arrow's and the Delta reader's thread pools) and a first job pays nothing extra."""
    from pathlib import Path

    import pyarrow as pa
    from deltalake import write_deltalake

    from lakehouse.config import Settings
    from lakehouse.query.limits import QueryLimits
    from lakehouse.query.local import LocalJob, ScanTable, run_job

    with tempfile.TemporaryDirectory(prefix="lakehouse-worker-") as folder:
        uri = Path(folder).as_uri()
        write_deltalake(uri, pa.table({"x": [1], "dt": ["2024-01-01"]}), partition_by=["dt"])
        table = ScanTable("warm.up", "warm", "up", uri, "delta")
        run_job(LocalJob('SELECT sum(x) FROM "warm"."up"', (table,), Settings(Path(folder), uri, uri), 1,
                         QueryLimits()))


def _answer(job) -> tuple[tuple, bytes | None, bool]:
    """(the reply, the Arrow stream of the rows or None, whether this worker should stop after it)."""
    import pyarrow as pa

    from lakehouse.errors import LakehouseError
    from lakehouse.query.limits import out_of_memory
    from lakehouse.query.local import LocalQueryError, run_job

    try:
        table, truncated = run_job(job)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        return ("ok", {"truncated": truncated}), sink.getvalue().to_pybytes(), False
    except MemoryError:  # Python or Arrow hit the cap: this process may be left fragmented, start a fresh one
        return ("error", out_of_memory(job.limits)), None, True
    except LakehouseError as exc:
        return ("error", exc), None, False
    except Exception as exc:  # noqa: BLE001 - anything else is still one line for the caller
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return ("error", LocalQueryError(f"query failed in the worker: {detail}")), None, True


def serve(conn: Connection) -> None:
    _warm_up()
    ready_mb = _status("VmSize")["VmSize"]
    conn.send(("ready", {"vm_mb": ready_mb, "pid": os.getpid()}))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the pool closed or its process ended
        conn.send(("started", None, None))  # from here on, this worker ending means the job ended it
        cap = int((ready_mb + job.limits.memory_mb + MARGIN_MB) * 2**20)
        _reset_peak()
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        try:
            reply, rows, stop = _answer(job)
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        now = _status("VmSize", "VmHWM")
        kind, payload = reply
        meta = {"peak_mb": round(now.get("VmHWM", 0.0), 1), "cap_mb": round(cap / 2**20),
                "stop": stop or now["VmSize"] > ready_mb + MARGIN_MB}
        conn.send((kind, payload, meta))
        if rows is not None:
            conn.send_bytes(rows)
        if meta["stop"]:
            return


def main(argv: list[str]) -> int:
    _die_with_parent()
    conn = Connection(int(argv[0]))
    try:
        serve(conn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: Arrow's S3 and DuckDB threads can hang at exit
