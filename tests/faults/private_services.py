"""Private PostgreSQL clusters and Redis servers for fault tests (the shared ones are never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.procs import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """A throwaway cluster on a free port, socket in its own folder; stop/start at will."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="laypath-pg-"))
        self.data = self.root / "pgdata"
        self.sock = self.root
        self.port = free_port()
        self._as = []
        if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _ctl(self, *args: str) -> None:
        # the server inherits pg_ctl's output: send it to a log file, never to a pipe we would wait on
        subprocess.run([*self._as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"), *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        subprocess.run([*self._as, str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8"], check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off", "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def url(self, db: str = "laypath") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def copy_database_from(self, source_url: str, db: str = "laypath") -> None:
        """Create `db` here with the schema and rows of the source database (pg_dump | psql)."""
        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
        subprocess.run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {db}"], check=True, capture_output=True)
        dump = subprocess.run([str(PG_BIN / "pg_dump"), "--no-owner", "--no-privileges", source_url],
                              check=True, capture_output=True).stdout
        subprocess.run([*psql, "-d", db], input=dump, check=True, capture_output=True)


@contextmanager
def private_postgres(source_url: str):
    """A private cluster holding a copy of `source_url`; stopped and removed on exit."""
    pg = PrivatePostgres()
    pg.init()
    pg.start()
    try:
        pg.copy_database_from(source_url)
        yield pg
    finally:
        try:
            pg.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(pg.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server subprocess without persistence on a free port; stop/start keep the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def private_redis():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
