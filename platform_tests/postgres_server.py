"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free port on 127.0.0.1, password auth.

Running as root: initdb and postgres refuse to run as root, so the cluster is created and run as the
unprivileged user `nobody` through `runuser -u nobody --` (util-linux), with the temp dir chowned to it and
kept outside pytest's 0700 tmp dirs so that user can reach it. Any other user runs the binaries directly.
Binaries are looked up in PATH, /usr/local/bin and /usr/lib/postgresql/*/bin; without them (or without a way
to drop root) `start_postgres` raises `PostgresUnavailable`. `make test` installs the binaries
(postgres-deps), so the `pg` fixture (conftest.py) fails on it instead of skipping. One cluster serves the
whole test session, one database per test module (`create_database`).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "lakehouse", "s3cret-Test-pw"


class PostgresUnavailable(RuntimeError):
    pass


@dataclass
class PostgresServer:
    root: Path
    port: int
    bin_dir: Path
    prefix: list[str]

    def dsn(self, dbname: str = "postgres", password: str = PASSWORD) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={USER} password={password} connect_timeout=5"

    def stop(self) -> None:
        subprocess.run([*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "stop",
                        "-m", "immediate", "-w"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def _bin_dir() -> Path:
    candidates = [os.path.dirname(shutil.which("initdb") or "")] + ["/usr/local/bin"] + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and all(os.access(os.path.join(folder, b), os.X_OK) for b in ("initdb", "pg_ctl")):
            return Path(folder)
    raise PostgresUnavailable("PostgreSQL binaries (initdb, pg_ctl) not found in PATH, /usr/local/bin or "
                              "/usr/lib/postgresql/*/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres() -> PostgresServer:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="lh-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if not runuser:
            raise PostgresUnavailable("running as root and `runuser` is missing: cannot start PostgreSQL as nobody")
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        prefix = [runuser, "-u", "nobody", "--"]
    os.chmod(root, 0o700)
    pwfile = root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if prefix:
        os.chown(pwfile, pwd.getpwnam("nobody").pw_uid, -1)
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120, cwd=root)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-800:]}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
            "-E", "UTF8", "--no-locale", "--no-sync")
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c shared_buffers=32MB -c max_connections=30")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w",
            "-t", "60", "start")
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PostgresServer(root, port, bin_dir, prefix)


def create_database(server: PostgresServer, name: str) -> str:
    """A new, empty database on the session's cluster; its DSN."""
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return server.dsn(name)


def terminate_once(dsn: str, table: str, day: str, at_batch: int):
    """(listener, fired): a batch listener that kills the export's backend with pg_terminate_backend, once,
    when `table`'s export of `day` reaches batch `at_batch`; `fired` holds the event it acted on."""
    import psycopg

    fired = []

    def listener(event):
        if not fired and event.table == table and event.dt == day and event.batch == at_batch:
            fired.append(event)
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("select pg_terminate_backend(%s)", (event.backend_pid,))

    return listener, fired
