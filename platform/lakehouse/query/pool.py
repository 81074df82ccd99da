"""Worker processes that run local queries under hard limits, kept warm so a point query pays no start-up.

DuckDB's memory limit and interrupt do not bind everything a query can do: one value built by nested replace()
or list_transform is not counted, and an operator that never checks for interrupts runs past the timeout (a
probe reached 14 GB and 54 s under a 1 GB / 10 s limit). So each query runs in a worker process
(lakehouse.query.worker) that caps its own address space for the job (RLIMIT_AS: its size when ready, about
0.6-0.9 GB of mostly reserved address space, plus LAKEHOUSE_QUERY_MEMORY_MB plus worker.MARGIN_MB), and the pool
kills a worker that has not answered GRACE seconds after the statement timeout. Either way the caller gets the
same one line as when DuckDB stops the query itself. cgroup v2 memory limits would count only resident memory,
but need a writable cgroup tree, which a plain user (or a container on cgroup v1) does not have; RLIMIT_AS works
everywhere.

A worker that was killed, died or grew past its margin is replaced at once, so the pool stays warm. The CLI and
any other caller in one process share one pool of one worker (`shared_pool`); the service has its own, one
worker per query slot.
"""
from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import pyarrow as pa

from lakehouse.errors import LakehouseError
from lakehouse.query.limits import QueryLimitError, out_of_memory, timed_out

GRACE = 0.5  # seconds past the statement timeout before the worker is killed (DuckDB's own interrupt comes first)
START_TIMEOUT = 120.0  # seconds a new worker may take to import DuckDB and Arrow on a busy machine


class WorkerError(LakehouseError):
    """A query worker could not be started."""


class _WorkerGone(Exception):
    """The worker ended before it took the job (killed from outside while idle): another one can run it."""


@dataclass
class Done:
    table: pa.Table
    truncated: bool
    peak_memory_mb: float | None  # the worker's peak resident memory during the job


def _child_env() -> dict[str, str]:
    import lakehouse

    env = dict(os.environ)
    root = str(Path(lakehouse.__file__).resolve().parents[1])  # this package first, as the caller imports it
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # glibc's per-thread arenas and Arrow's mimalloc reserve gigabytes of address space they never use; with
    # these the worker's size when ready is ~0.6 GB instead of ~1.7 GB, so the cap stays close to the limit
    env["MALLOC_ARENA_MAX"] = "2"
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    return env


class Worker:
    """One worker process and this end of its socket pair."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        self.stderr = tempfile.TemporaryFile()  # read only when the worker fails to start
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lakehouse.query.worker", str(theirs.fileno())], pass_fds=[theirs.fileno()],
                env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.ready: dict | None = None
        self._ready_lock = threading.Lock()
        self.healthy = True  # False once killed, dead or asked to stop: the pool replaces it

    def _wait_ready(self) -> None:
        with self._ready_lock:  # warm(wait=True) and a query may both wait for the same new worker
            if self.ready is None:
                self._read_ready()

    def _read_ready(self) -> None:
        try:
            if not self.conn.poll(START_TIMEOUT):
                raise EOFError
            kind, self.ready, *_ = self.conn.recv()
        except (EOFError, OSError):
            reason = self._last_error()
            self.stop()
            raise WorkerError(f"the query worker did not start within {START_TIMEOUT:g} s"
                              + (f": {reason}" if reason else "")) from None

    def has_started(self) -> bool:
        """Whether the worker is ready, without waiting (False while another thread waits for it)."""
        if self.ready is not None:
            return True
        if not self._ready_lock.acquire(blocking=False):
            return False
        try:
            if self.ready is None and self.conn.poll(0):
                self._read_ready()
        except WorkerError:  # it died starting: the pool replaces it when it is next taken
            return False
        finally:
            self._ready_lock.release()
        return self.ready is not None

    def _last_error(self) -> str:
        self.stderr.seek(0)
        lines = [line.strip() for line in self.stderr.read()[-4000:].decode("utf-8", "replace").splitlines()]
        return next((line for line in reversed(lines) if line), "")

    def run(self, job) -> Done:
        self._wait_ready()
        deadline, started = time.monotonic() + job.limits.timeout + GRACE, False
        try:
            self.conn.send(job)
            while True:  # the worker says "started" when it has the job, then answers
                if not self.conn.poll(max(deadline - time.monotonic(), 0)):
                    error = timed_out(job.limits)
                    error.peak_memory_mb = self.stop()
                    raise error
                kind, payload, meta = self.conn.recv()
                if kind != "started":
                    break
                started = True
            rows = self.conn.recv_bytes() if kind == "ok" else None
        except (EOFError, OSError):  # it ended: mid-job at the cap (or by the OOM killer), or before the job
            peak = self.stop()
            if not started:
                raise _WorkerGone from None
            error = out_of_memory(job.limits)
            error.peak_memory_mb = peak
            raise error from None
        self.healthy = not meta["stop"]
        if kind != "ok":
            if isinstance(payload, QueryLimitError):
                payload.peak_memory_mb = meta["peak_mb"]
            raise payload
        table = pa.ipc.open_stream(pa.py_buffer(rows)).read_all()
        return Done(table, payload["truncated"], meta["peak_mb"])

    def stop(self) -> float | None:
        """Kill the process (if it still runs) and reap it; its peak resident memory in MB, when known."""
        self.healthy = False
        self.conn.close()
        if self.process.returncode is not None:
            return None
        try:
            self.process.send_signal(signal.SIGKILL)
            _, status, usage = os.wait4(self.process.pid, 0)
            self.process.returncode = os.waitstatus_to_exitcode(status)
            return round(usage.ru_maxrss / 1024, 1)
        except ChildProcessError:  # reaped elsewhere already
            self.process.returncode = -signal.SIGKILL
            return None
        finally:
            self.stderr.close()


class WorkerPool:
    """At most `size` workers; `run` takes an idle one (or starts one), and waits when all are busy."""

    def __init__(self, size: int):
        self.size = size
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._cond = threading.Condition()
        self._closed = False
        _POOLS.add(self)

    def warm(self, wait: bool = False) -> "WorkerPool":
        """Start every worker now (they load in the background), so the first queries do not wait for one; with
        `wait`, return once the idle ones are ready."""
        with self._cond:
            while not self._closed and len(self._workers) < self.size:
                self._add_idle()
            idle = list(self._idle)
        for worker in idle if wait else ():
            worker._wait_ready()
        return self

    def prepare(self) -> "WorkerPool":
        """Start one worker now if none is idle (and the pool has room), so it loads while the caller does other
        work (the guard reading the query); `run` takes it."""
        with self._cond:
            if not self._closed and not self._idle and len(self._workers) < self.size:
                self._add_idle()
        return self

    def _add_idle(self) -> None:
        worker = Worker()
        self._workers.add(worker)
        self._idle.append(worker)

    def _take(self) -> Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerError("the query workers were shut down")
                if self._idle:
                    return self._idle.pop()
                if len(self._workers) < self.size:
                    self._add_idle()
                    return self._idle.pop()
                self._cond.wait()

    def _give_back(self, worker: Worker) -> None:
        with self._cond:
            if worker.healthy and not self._closed:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
                worker.stop()
                if not self._closed:
                    self._add_idle()  # its replacement starts loading now
            self._cond.notify()

    def run(self, job) -> Done:
        for attempt in (1, 2):
            worker = self._take()
            try:
                return worker.run(job)
            except _WorkerGone:
                if attempt == 2:
                    raise WorkerError("the query workers keep ending before they get a query; see the service "
                                      "log or the machine's (OOM killer)") from None
            finally:
                self._give_back(worker)
        raise AssertionError("unreachable")

    def readiness(self) -> tuple[int, int]:
        """(workers ready, workers started): busy ones are ready, idle ones are asked without waiting."""
        with self._cond:
            idle, busy = list(self._idle), len(self._workers) - len(self._idle)
        return busy + sum(1 for worker in idle if worker.has_started()), busy + len(idle)

    @property
    def pids(self) -> list[int]:
        with self._cond:
            return [w.process.pid for w in self._workers if w.process.returncode is None]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._workers, self._idle = list(self._workers), set(), []
            self._cond.notify_all()
        for worker in workers:
            worker.stop()


_POOLS: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()
_shared: WorkerPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """This process's pool of one worker, started at its first query (the CLI, scripts, tests)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = WorkerPool(1)
        return _shared


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()
