"""clamd configurations from the repository's template, and private clamd processes.

Development uses the long-running clamd started by ``deploy/local/services.sh``, whose
configuration comes from ``python -m uploads.clamd_process render`` (so it passes the
same limit check); the suite and ``bench/uploads.py`` start their own, on a free
loopback port with the shipped signature database, so they can stop and restart it.
"""

from __future__ import annotations

import argparse
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "deploy" / "clamav" / "clamd.conf.template"
DATABASE_DIR = REPO / "deploy" / "clamav" / "db"
CLAMD_USER = "clamav"  # Debian's clamav-daemon creates it; clamd drops root for it


# Below the kernel's ephemeral range (32768-60999): a port from that range may be taken
# by an outgoing connection at any moment, and local services stay below it.
FREE_PORTS = range(20000, 32768)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, below the ephemeral range."""
    for port in random.sample(FREE_PORTS, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {FREE_PORTS.start}-{FREE_PORTS.stop - 1}")


def clamd_binary() -> str | None:
    return shutil.which("clamd") or (
        "/usr/sbin/clamd" if os.access("/usr/sbin/clamd", os.X_OK) else None
    )


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def size_bytes(value: str) -> int:
    """clamd's size notation (``300M``, ``2G``, ``4096``) in bytes."""
    value = value.strip().upper()
    unit = value[-1] if value[-1:] in _UNITS else ""
    return int(value[: len(value) - len(unit)]) * _UNITS[unit]


def check_limits(*, stream_max: str, scan_max: str, file_max: str) -> None:
    """Refuse limits under which clamd would pass content it did not scan: it cuts a
    ZIP member at MaxFileSize without alerting, so MaxFileSize must exceed MaxScanSize
    (which alerts), and the stream itself must fit in MaxScanSize."""
    stream, scan, file = size_bytes(stream_max), size_bytes(scan_max), size_bytes(file_max)
    if not stream <= scan < file:
        raise ValueError(
            f"clamd limits must satisfy StreamMaxLength <= MaxScanSize < MaxFileSize, "
            f"got {stream_max} / {scan_max} / {file_max}"
        )


def render_config(
    *,
    port: int,
    run_dir: Path,
    stream_max: str,
    file_max: str,
    scan_max: str,
    foreground: bool = True,
    cache: bool = True,
) -> str:
    """clamd.conf from the template. ``cache=False`` turns off clamd's cache of clean
    files' hashes (a benchmark scanning the same bytes twice must not time a cache hit)."""
    check_limits(stream_max=stream_max, scan_max=scan_max, file_max=file_max)
    user_line = ""
    if os.geteuid() == 0:
        user_line = f"User {CLAMD_USER}"
    return (
        TEMPLATE.read_text()
        .replace("@FOREGROUND@", "yes" if foreground else "no")
        .replace("@PORT@", str(port))
        .replace("@DATABASE_DIR@", str(DATABASE_DIR))
        .replace("@RUN_DIR@", str(run_dir))
        .replace("@USER_LINE@", user_line)
        .replace("@STREAM_MAX@", stream_max)
        .replace("@FILE_MAX@", file_max)
        .replace("@SCAN_MAX@", scan_max)
    ) + ("" if cache else "DisableCache yes\n")


class ClamdProcess:
    """A clamd child process on 127.0.0.1:``port``; ``stop()``/``start()`` may repeat."""

    def __init__(
        self,
        *,
        port: int | None = None,
        stream_max: str = "300M",
        scan_max: str = "1200M",
        file_max: str = "1201M",
        cache: bool = True,
    ) -> None:
        binary = clamd_binary()
        if binary is None:
            raise RuntimeError("clamd is not installed (Debian package clamav-daemon)")
        self.binary = binary
        self.port = port or free_port()
        self.run_dir = Path(tempfile.mkdtemp(prefix="atrium-clamd-"))
        self.config = self.run_dir / "clamd.conf"
        self.config.write_text(
            render_config(
                port=self.port,
                run_dir=self.run_dir,
                stream_max=stream_max,
                file_max=file_max,
                scan_max=scan_max,
                cache=cache,
            )
        )
        if os.geteuid() == 0:
            user = pwd.getpwnam(CLAMD_USER)
            os.chown(self.run_dir, user.pw_uid, user.pw_gid)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our binary, our config file
            [self.binary, "--config-file", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.run_dir / "clamd.log"
                raise RuntimeError(f"clamd exited: {log.read_text() if log.exists() else ''}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("clamd did not answer PING in time")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"zPING\0")
                return sock.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``render``: print a clamd.conf for a long-running clamd (``services.sh``)."""
    parser = argparse.ArgumentParser(prog="python -m uploads.clamd_process")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print clamd.conf rendered from the template")
    render.add_argument("--port", type=int, required=True)
    render.add_argument("--run-dir", type=Path, required=True)
    render.add_argument("--stream-max", required=True)
    render.add_argument("--scan-max", required=True)
    render.add_argument("--file-max", required=True)
    render.add_argument("--foreground", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = render_config(
            port=args.port,
            run_dir=args.run_dir,
            stream_max=args.stream_max,
            scan_max=args.scan_max,
            file_max=args.file_max,
            foreground=args.foreground,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(config, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
