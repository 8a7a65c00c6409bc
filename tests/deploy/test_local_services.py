"""deploy/local/services.sh starts clamd deterministically: it answers, or the start
fails within its bound with clamd's log, and no clamd is left behind either way."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uploads.clamd_process import clamd_binary, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "deploy" / "local" / "services.sh"

pytestmark = pytest.mark.skipif(clamd_binary() is None, reason="clamd is not installed")


def services(var: Path, port: int, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SERVICES), *args],
        env={
            **os.environ,
            "PY": sys.executable,
            "ATRIUM_VAR_DIR": str(var),
            "CLAMD_PORT": str(port),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=90,
    )


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"zPING\0")
            return sock.recv(8).startswith(b"PONG")
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of ours is gone for every purpose here.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


@pytest.mark.slow
def test_clamd_starts_and_stops_every_time(tmp_path):
    port = free_port()
    for _ in range(2):
        started = time.monotonic()
        result = services(tmp_path, port, "start-clamd")
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 30
        assert ping(port)
        pid = int((tmp_path / "clamd" / "supervised.pid").read_text())
        assert "clamd" in Path(f"/proc/{pid}/cmdline").read_text()
        # Foreground under our supervision: the pid we keep is clamd itself, no fork.
        assert "Foreground yes" in (tmp_path / "clamd" / "clamd.conf").read_text()
        assert services(tmp_path, port, "stop-clamd").returncode == 0
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid)
        assert not ping(port)


def test_clamd_that_cannot_start_fails_fast_with_its_log(tmp_path):
    with socket.socket() as taken:  # clamd cannot bind a port that is taken
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = services(tmp_path, port, "start-clamd")
    assert result.returncode == 1
    assert time.monotonic() - started < 30
    assert "clamd exited while starting" in result.stderr
    assert not (tmp_path / "clamd" / "supervised.pid").exists()


def test_clamd_start_is_bounded_and_leaves_nothing_running(tmp_path):
    port = free_port()
    result = services(tmp_path, port, "start-clamd", CLAMD_START_TIMEOUT="0")
    assert result.returncode == 1
    assert "did not answer PING" in result.stderr and "CLAMD_START_TIMEOUT" in result.stderr
    time.sleep(1)
    assert not ping(port)
    assert not (tmp_path / "clamd" / "supervised.pid").exists()


def test_default_ports_lie_below_the_ephemeral_range_and_agree():
    import re

    ephemeral_start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    makefile = (ROOT / "Makefile").read_text()
    script = SERVICES.read_text()
    settings_src = (ROOT / "platform" / "config" / "settings" / "base.py").read_text()
    for name in ("PGPORT", "REDIS_PORT"):
        in_make = re.search(rf"export {name} \?= (\d+)", makefile).group(1)
        in_script = re.search(rf'{name}="\$\{{{name}:-(\d+)\}}"', script).group(1)
        in_settings = re.search(rf"env\('{name}', '(\d+)'\)", settings_src).group(1)
        assert in_make == in_script == in_settings, name
        assert int(in_make) < min(ephemeral_start, 32768), name
    clamd = re.search(r'CLAMD_PORT="\$\{CLAMD_PORT:-(\d+)\}"', script).group(1)
    assert clamd == re.search(r'env\("CLAMD_PORT", "(\d+)"\)', settings_src).group(1)
    assert int(clamd) < 32768
