"""``python -m config.worker``: a real worker process on the test broker runs tasks."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app
from config.worker import parse_args, worker_options

ROOT = Path(__file__).resolve().parents[1]


def test_command_line_maps_to_worker_options():
    args = parse_args(["-c", "3", "-P", "solo", "-B", "-s", "var/beat", "-Q", "a,b", "-n", "w@%h"])
    options = worker_options(args)
    assert options["concurrency"] == 3
    assert options["pool_cls"] == "solo"
    assert options["beat"] is True
    assert options["schedule_filename"] == "var/beat"
    assert options["queues"] == "a,b"
    assert options["loglevel"] == "INFO"
    assert options["hostname"] == f"w@{socket.gethostname()}"  # %h expanded, as celery does
    assert "hostname" not in worker_options(parse_args([]))  # Celery picks its default


def test_celery_copies_djangos_celery_settings_once():
    conf = app.conf
    assert conf.task_acks_late is settings.CELERY_TASK_ACKS_LATE is True
    assert conf.broker_transport_options == settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert conf.task_default_queue == "celery"  # not set in Django's settings: Celery's
    # A plain dict, not Django's lazy settings object (where each miss is an exception).
    assert [m for m in conf.maps if type(m) is dict and "CELERY_TASK_ACKS_LATE" in m]
    assert not [m for m in conf.maps if "DEBUG" in m]  # only the CELERY_ names


# send_task publishes for real even with the test settings' eager mode, which is the point.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_worker_consumes_tasks_restarts_on_hup_and_stops_warmly(tmp_path):
    queue = f"test-worker-{uuid.uuid4().hex[:8]}"
    hostname = f"{queue}@localhost"
    log = tmp_path / "worker.log"
    dropped = ("DJANGO_", "CELERY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_DEBUG="1",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
    )
    command = [sys.executable, "-m", "config.worker", "-P", "solo", "-Q", queue]
    command += ["-n", hostname, "--without-gossip", "--without-mingle"]
    with log.open("wb") as out:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        replies = []
        while not replies and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            replies = app.control.ping(destination=[hostname], timeout=1)
        assert replies == [{hostname: {"ok": "pong"}}], log.read_text()

        # A built-in task (no result backend here): the worker's JSON task line shows it
        # ran, without its arguments or return value (config.task_hooks).
        app.send_task("celery.accumulate", args=(4, 2), queue=queue)
        done = '"task": "celery.accumulate", "task_id"'
        while done not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done in log.read_text(), log.read_text()
        assert '"outcome": "success"' in log.read_text()
        assert "(4, 2)" not in log.read_text()

        # SIGHUP: the worker re-executes itself (same pid) and serves again.
        worker.send_signal(signal.SIGHUP)
        while log.read_text().count(" ready.") < 2 and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.2)
        assert log.read_text().count(" ready.") == 2, log.read_text()
        assert app.control.ping(destination=[hostname], timeout=2) == [{hostname: {"ok": "pong"}}]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    assert code == 0, log.read_text()
    assert "Warm shutdown" in log.read_text()
