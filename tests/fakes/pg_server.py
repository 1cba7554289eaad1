"""A real PostgreSQL server for the tests and benchmarks: initdb in a temporary folder, a
free port on 127.0.0.1, password authentication, stopped (and the folder removed) after.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
(Debian's package creates it). The binaries come from Debian's `postgresql` package,
which `make test`, `.ci/run` and the README's setup line install when they are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

USER = "oneie"


class PgServerError(RuntimeError):
    pass


def bin_dir() -> Path:
    """The newest installed server's binaries (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PgServerError(
        "PostgreSQL server binaries not found: apt-get install -y postgresql (make test does it)"
    )


def _reachable_by_others(folder: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [folder, *folder.parents])


def _base_dir() -> str | None:
    """A temporary folder the `postgres` user can reach (here /tmp may be root's alone)."""
    if os.geteuid() != 0:
        return None
    for candidate in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        if Path(candidate).is_dir() and _reachable_by_others(Path(candidate)):
            return candidate
    raise PgServerError("no temporary folder the postgres user can reach")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, *, durable: bool = False) -> None:
        self.bin = bin_dir()
        self.password = secrets.token_urlsafe(12)
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="oneie-pg-", dir=_base_dir()))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._durable = durable
        self._as: list[str] = []
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PgServerError(f"{argv[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> PgServer:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            pg = pwd.getpwnam("postgres")
            os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        os.chmod(pwfile, 0o600)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        pwfile.unlink()
        options = [
            f"-p {self.port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
            "-c max_connections=200",
        ]
        if not self._durable:  # tests: nothing here needs to survive a power cut
            options += ["-c fsync=off", "-c full_page_writes=off"]
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", " ".join(options), "start",
        )
        return self

    def stop(self) -> None:
        with contextlib.suppress(PgServerError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def running_server(*, durable: bool = False) -> Iterator[PgServer]:
    server = PgServer(durable=durable)
    try:
        yield server.start()
    finally:
        server.stop()
