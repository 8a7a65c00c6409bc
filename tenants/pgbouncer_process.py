"""A private PgBouncer in transaction-pooling mode, for the tests and benchmarks of
``DATABASE_POOLING`` (never used by the application itself).

It listens on 127.0.0.1 only, lets any client in as the configured server role
(``auth_type = any``: loopback, test data, no password anywhere) and pools every
database of the server (``*``) with ``pool_size`` server connections, so that clients
outnumber server connections and share them as they would in production.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PGBOUNCER_USER = "atrium-pg"  # services.sh's PostgreSQL user; pgbouncer refuses root


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None
    )


def default_port() -> int:
    """``PGBOUNCER_PORT``, else ``PGPORT`` + 9: parallel checkouts, which each have a
    PGPORT of their own, get a port of their own too (54338 by default)."""
    if os.environ.get("PGBOUNCER_PORT"):
        return int(os.environ["PGBOUNCER_PORT"])
    return int(os.environ.get("PGPORT", "15432")) + 9


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port`` (or holds it bound).
    SO_REUSEADDR as pgbouncer sets it: connections of a past run in TIME_WAIT do not count."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError:
        return True
    finally:
        probe.close()
    return False


def render_config(
    *, port: int, server_host: str, server_port: int, server_user: str, pool_size: int
) -> str:
    return f"""\
[databases]
* = host={server_host} port={server_port} user={server_user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
max_db_connections = {pool_size}
server_lifetime = 3600
server_idle_timeout = 600
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
"""


class PgBouncerProcess:
    """pgbouncer in transaction mode on 127.0.0.1:``port``, in front of one server."""

    def __init__(
        self,
        *,
        server_host: str,
        server_port: int,
        server_user: str,
        pool_size: int = 2,
        port: int | None = None,
    ) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (Debian package pgbouncer)")
        self.binary = binary
        self.port = port or default_port()
        self.pool_size = pool_size
        self.run_dir = Path(tempfile.mkdtemp(prefix="atrium-pgbouncer-"))
        self.config = self.run_dir / "pgbouncer.ini"
        self.config.write_text(
            render_config(
                port=self.port,
                server_host=server_host,
                server_port=server_port,
                server_user=server_user,
                pool_size=pool_size,
            )
        )
        self.log = self.run_dir / "pgbouncer.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start pgbouncer and wait until it listens. Refuses a port that is taken: the
        readiness probe would otherwise be answered by whatever holds it (a stray
        pgbouncer of an earlier run, another checkout's), and the caller would talk to it."""
        if port_in_use(self.port):
            raise RuntimeError(
                f"pgbouncer: 127.0.0.1:{self.port} is already in use (a stray pgbouncer?); "
                "stop what listens there or choose another port (PGBOUNCER_PORT)"
            )
        command = [self.binary]
        if os.geteuid() == 0:
            # It reads its configuration before it drops root for this user.
            user = PGBOUNCER_USER
            try:
                pwd.getpwnam(user)
            except KeyError:
                user = "nobody"
            command += ["--user", user]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our binary, our config file
                [*command, str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    if self.process.poll() is None:  # ours answered, not a late-comer's
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen in time:\n{self.log.read_text()}")

    def url(self, database: str, user: str) -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: immediate shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)
