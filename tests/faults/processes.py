"""Real processes to break on purpose: a throw-away Redis, a Celery worker, a small
tmpfs. Used by the fault-injection tests and by ``bench/faults.py``; each tear-down
undoes what it made (never the suite's own Redis)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_low_port() -> int:
    """A free loopback port below 32768 (local services stay under the ephemeral range)."""
    for _ in range(200):
        port = random.randint(22000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


def wait_for(predicate, timeout: float, step: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"{what} not met within {timeout} s")


class RedisProcess:
    """A redis-server of its own on a free port, stopped and started again on that port
    (no persistence: a restart loses every key, as a crashed cache node does)."""

    def __init__(self) -> None:
        self.port = free_low_port()
        self.dir = Path(tempfile.mkdtemp(prefix="atrium-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.ping, 10, what="redis-server to answer")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """One command in the inline protocol (no client library needed)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall((" ".join(args) + "\r\n").encode())
            return sock.recv(65536)

    def stop(self) -> None:
        """Shut it down at once (``SIGKILL``: no goodbye to its clients, like a crash)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def worker_env(broker_url: str, **extra: str) -> dict:
    """The environment of a real worker on ``broker_url`` and the test database."""
    from django.conf import settings
    from django.db import connection

    dropped = ("DJANGO_", "CELERY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    db = connection.settings_dict
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=broker_url,
        CELERY_BROKER_URL=broker_url,
        CLAMD_HOST=str(settings.CLAMD_HOST),
        CLAMD_PORT=str(settings.CLAMD_PORT),
        CLAMD_TIMEOUT=str(int(settings.CLAMD_TIMEOUT)),
        **extra,
    )
    return env


class WorkerProcess:
    """``python -m config.worker`` in a subprocess (solo pool), with its log in a file."""

    def __init__(self, env: dict, log: Path, *extra_args: str) -> None:
        self.env, self.log = env, log
        self.args = ["-P", "solo", "--without-gossip", "--without-mingle", *extra_args]
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "config.worker", *self.args]

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60, count: int = 1, alive=None) -> None:
        """Until the log says ``ready.`` ``count`` times (``alive``: who must not die)."""

        def ready():
            assert (alive or self.alive)(), self.text()
            return self.text().count(" ready.") >= count

        wait_for(ready, timeout, 0.2, "the worker to be ready")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Tmpfs:
    """A small tmpfs mounted on a fresh folder (root only): a disk that really fills."""

    def __init__(self, size_kib: int) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="atrium-full-"))
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0777", "tmpfs", str(self.path)],
            check=True,
            capture_output=True,
        )

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0 and shutil.which("mount") is not None

    def used_bytes(self) -> int:
        """Bytes held in the filesystem, open-but-deleted files included (statvfs)."""
        stat = os.statvfs(self.path)
        return (stat.f_blocks - stat.f_bfree) * stat.f_frsize

    def files(self) -> list[Path]:
        return [p for p in self.path.rglob("*") if p.is_file()]

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)
