"""A real PostgreSQL server for tests and benchmarks: initdb into a temporary directory,
`postgres` on a free loopback port, stopped and deleted afterwards.

initdb and postgres refuse to run as root (CI runs as root): then both run as the
`postgres` system user (Debian's package creates it), else as `nobody`, through
subprocess's `user=`/`group=`, with the data directory owned by that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.utils.chroma_server import free_port

SUPERUSER = "paperchat"


def find_binaries() -> Path | None:
    """The directory holding initdb and postgres (PATH first, then Debian's layout)."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(bindir, "initdb").exists() and Path(bindir, "postgres").exists():
            return Path(bindir)
    return None


def _run_as() -> dict[str, Any]:
    """Popen kwargs that drop root; {} when not root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root with no 'postgres' or 'nobody' user to run "
                       "PostgreSQL as")


class PostgresServer:
    """One PostgreSQL cluster; `url(dbname)` and `create_database()` for tests."""

    def __init__(self, *, durable: bool = False) -> None:
        bindir = find_binaries()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, postgres) not found")
        self.bindir = bindir
        self.durable = durable  # fsync on (benchmarks); tests trade it for speed
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="paperchat-pg-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self._as = _run_as()
        if self._as:
            os.chown(self.dir, self._as["user"], self._as["group"])
        self.log = self.dir / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        data = self.dir / "data"
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            **self._as)
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
                   "-c", f"unix_socket_directories={self.dir}", "-c", "max_connections=200"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(data), *options],
                env=env, stdout=log, stderr=subprocess.STDOUT, **self._as)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                pass
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not accept connections in {timeout} s")
            time.sleep(0.1)

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
