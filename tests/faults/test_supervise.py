"""deploy/local/supervise.sh (how `make run` keeps its worker): a command that keeps
dying is started again with a growing, bounded pause; TERM stops both."""

from __future__ import annotations

import itertools
import signal
import subprocess
import time

from tests.faults.processes import ROOT, wait_for


def test_restarts_with_bounded_back_off_and_stops_on_term(tmp_path):
    runs = tmp_path / "runs"
    script = f"date +%s.%N >> {runs}; exit 3"
    supervisor = subprocess.Popen(
        ["deploy/local/supervise.sh", "flaky", "sh", "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SUPERVISE_MAX_DELAY": "2", "SUPERVISE_RESET_AFTER": "60"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: runs.exists() and len(runs.read_text().split()) >= 4, 15, 0.1,
                 "four runs")  # fmt: skip
    finally:
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=10)
    stamps = [float(s) for s in runs.read_text().split()]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert 0.8 < gaps[0] < 1.8  # 1 s
    assert 1.8 < gaps[1] < 2.8  # 2 s
    assert 1.8 < gaps[2] < 2.8  # capped at SUPERVISE_MAX_DELAY
    assert code == 0
    assert "flaky exited with status 3" in supervisor.stderr.read()
    count = len(runs.read_text().split())
    time.sleep(1.5)
    assert len(runs.read_text().split()) == count  # nothing started after TERM
