"""Real workers (``python -m config.worker``) on a throw-away Redis, with the real
clamd, moto's S3 and the test database: the broker dies with tasks in flight, uploads
arrive while it is down, and a worker is SIGKILLed mid-scan."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from tests.conftest import client_for, sign_in
from tests.faults.processes import ROOT, WorkerProcess, wait_for, worker_env
from tests.servers import BUCKET, CLAMD_STREAM_MAX
from uploads.models import Document

pytestmark = pytest.mark.django_db(transaction=True)
CLEAN = b"%PDF-1.4\n% fault test\n" + b"x" * 20_000
LEASE_S = 3


@pytest.fixture
def s3_worker_env(s3_storage, redis_server, settings):
    return worker_env(
        redis_server.url,
        S3_ENDPOINT_URL=s3_storage["endpoint"],
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        UPLOADS_SCANNER_MAX_BYTES=str(CLAMD_STREAM_MAX),
        UPLOADS_SCAN_LEASE_SECONDS=str(LEASE_S),
        UPLOADS_SCAN_RETRY_BASE="2",
        LOG_LEVEL="INFO",
    )


def upload(client, name: str) -> str:
    response = client.post(
        "/documents/upload/",
        {"files": SimpleUploadedFile(name, CLEAN)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["documents"][0]["id"]


def state_of(tenant, document_id) -> str:
    with schema_context(tenant.schema_name):
        return Document.objects.get(pk=document_id).state


def signed_in(tenant, user):
    client = client_for(tenant)
    client.raise_request_exception = False
    assert sign_in(client, user.email)
    return client


@pytest.mark.slow
def test_broker_outage_then_worker_killed_mid_scan(
    app_on_broker, redis_server, s3_worker_env, clamd_server, tenant_a, owner_a, tmp_path
):
    """One worker, as `make run` starts it (under deploy/local/supervise.sh), through
    both faults in turn (one test: each real-commit test costs a database reset)."""
    client = signed_in(tenant_a, owner_a)
    log = tmp_path / "worker.log"
    worker = WorkerProcess(s3_worker_env, log)
    supervisor = subprocess.Popen(
        ["deploy/local/supervise.sh", "worker", *worker.command()],
        cwd=ROOT,
        env={**s3_worker_env, "SUPERVISE_MAX_DELAY": "2"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    supervised = lambda: supervisor.poll() is None  # noqa: E731
    clamd = psutil.Process(clamd_server.process.pid)
    try:
        worker.wait_ready(alive=supervised)
        (first_worker,) = psutil.Process(supervisor.pid).children()

        # 1. The broker dies while the worker holds a task: clamd is down, so the scan
        # goes into a timed retry the worker keeps, unacknowledged.
        clamd_server.stop()
        first = upload(client, "first.pdf")
        wait_for(lambda: redis_server.command("HLEN", "unacked").strip() == b":1", 30,
                 what="a scan retry held unacknowledged")  # fmt: skip
        redis_server.stop()
        during = upload(client, "during-outage.pdf")  # accepted all the same
        assert state_of(tenant_a, during) == Document.State.QUARANTINED
        time.sleep(3)
        # kombu's restore did not take the worker down (nor did it need restarting).
        assert first_worker.is_running() and first_worker.status() != psutil.STATUS_ZOMBIE
        assert psutil.Process(supervisor.pid).children() == [first_worker], log.read_text()
        clamd_server.start()
        redis_server.start()  # empty: a Redis without persistence lost its queues
        back = time.monotonic()
        for document_id in (first, during):
            try:
                wait_for(lambda d=document_id: state_of(tenant_a, d) == "available", 60, 0.5,
                         f"{document_id} to be scanned after the broker came back")  # fmt: skip
            except TimeoutError as exc:
                raise AssertionError(log.read_text()[-6000:]) from exc
        assert time.monotonic() - back < 60
        assert "starting it again" not in log.read_text()

        # 2. The worker is SIGKILLed mid-scan (clamd frozen, so the scan hangs).
        # This process's publish breaker may still hold the outage's failure (5 s): the
        # scan would then wait for the periodic watch, which is not what this part tests.
        app_on_broker._broker_down_until = 0.0
        clamd = psutil.Process(clamd_server.process.pid)
        clamd.suspend()
        victim = upload(client, "big-report.pdf")
        wait_for(lambda: state_of(tenant_a, victim) == "scanning", 30, 0.2,
                 what="the scan to start")  # fmt: skip
        time.sleep(LEASE_S)  # the lease is renewed while clamd hangs
        assert state_of(tenant_a, victim) == "scanning"
        readies = log.read_text().count(" ready.")
        first_worker.send_signal(signal.SIGKILL)
        clamd.resume()
        worker.wait_ready(count=readies + 1, alive=supervised)  # started again
        back = time.monotonic()
        wait_for(lambda: state_of(tenant_a, victim) == "available", 60, 0.5,
                 what="the killed worker's scan to be taken over")  # fmt: skip
        assert time.monotonic() - back < 60
        assert "starting it again" in log.read_text()
    finally:
        if clamd.is_running() and clamd.status() == psutil.STATUS_STOPPED:
            clamd.resume()
        if not clamd_server.ping():
            clamd_server.start()
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            supervisor.kill()
        for child in psutil.Process(os.getpid()).children(recursive=True):
            if "config.worker" in " ".join(child.cmdline()):
                child.kill()
