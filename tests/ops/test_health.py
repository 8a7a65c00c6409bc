"""Health endpoints: answered before routing and host checks, cheap where probed."""

import json

import pytest
from django.db import connection
from django.test import Client

from config import health
from tests.uploads.conftest import s3_storage  # noqa: F401 - a fixture


def get(path: str, host: str = "10.1.2.3:8000") -> tuple[int, dict]:
    response = Client(HTTP_HOST=host).get(path)
    return response.status_code, json.loads(response.content)


@pytest.mark.django_db
def test_live_answers_on_any_host_without_touching_anything(django_assert_num_queries):
    for host in ("10.1.2.3:8000", "not-allowed.example", "alpha.localhost", "[::1]:8000"):
        with django_assert_num_queries(0):
            status, body = get("/healthz/live", host)
        assert (status, body) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_ready_checks_database_cache_storage_and_migrations_by_pod_ip():
    status, body = get("/healthz/ready")
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"Database", "Cache", "ObjectStorage", "MigrationsApplied"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


@pytest.mark.django_db
def test_ready_fails_when_the_cache_is_unreachable(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    status, body = get("/healthz/ready")
    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"]["Cache"]["status"] == "fail"
    assert body["checks"]["Database"]["status"] == "ok"


@pytest.mark.django_db
def test_ready_reports_missing_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrated", type(health._migrated)())
    real = health._expected_migrations
    monkeypatch.setattr(
        health, "_expected_migrations", lambda: real() | {("uploads", "9999_not_yet")}
    )
    status, body = get("/healthz/ready")
    assert status == 503
    assert "uploads.9999_not_yet" in body["checks"]["MigrationsApplied"]["detail"]


@pytest.mark.django_db
def test_ready_reuses_the_threads_database_connection(django_assert_num_queries):
    get("/healthz/ready")  # warm: the connection exists, migrations are known applied
    before = connection.connection
    with django_assert_num_queries(1):  # SELECT 1
        for _ in range(1):
            status, _body = get("/healthz/ready")
    assert status == 200
    for _ in range(20):
        get("/healthz/ready")
    assert connection.connection is before, "ready opened a new database connection"


def test_library_database_check_opens_a_connection_per_call_in_its_executor(
    django_db_setup, django_db_blocker
):
    """Why ``ready`` does not use django-health-check's view: its Database check runs in
    an executor thread and opens and closes a connection there on every call."""
    import asyncio

    from django.db.backends.base.base import BaseDatabaseWrapper
    from health_check.checks import Database as LibraryDatabase

    opened = []
    original = BaseDatabaseWrapper.connect

    def counting_connect(self):
        opened.append(self)
        return original(self)

    BaseDatabaseWrapper.connect = counting_connect
    try:
        with django_db_blocker.unblock():
            for _ in range(3):
                result = asyncio.run(LibraryDatabase().get_result())
                assert result.error is None
    finally:
        BaseDatabaseWrapper.connect = original
    assert len(opened) == 3


@pytest.mark.django_db
def test_deep_is_not_served_on_a_workspace_or_public_host(tenant_a):
    assert Client(HTTP_HOST="alpha.localhost").get("/healthz/deep").status_code == 404
    assert Client(HTTP_HOST="localhost").get("/healthz/deep").status_code == 404


# Not transactional: the deep checks read the session's committed baseline from their
# own threads' connections.
@pytest.mark.django_db
def test_deep_without_a_worker_fails_on_celery_and_warns_about_unknown_backups(settings):
    settings.HEALTH_CELERY_TIMEOUT = 0.5
    from django.core.cache import caches

    caches["ops"].clear()
    status, body = get("/healthz/deep")
    checks = body["checks"]
    assert status == 503
    assert checks["CeleryWorkers"]["status"] == "fail"
    assert checks["BackupAge"] == {**checks["BackupAge"], "status": "warning"}
    assert "unknown" in checks["BackupAge"]["detail"]
    for name in ("DatabaseDeep", "Cache", "ObjectStorage", "Clamd", "SparePool"):
        assert checks[name]["status"] == "ok", (name, checks[name])


@pytest.mark.django_db
def test_backup_age_check_reads_the_backup_catalogue(tenant_a, tenant_b, settings):
    from datetime import timedelta

    from django.utils import timezone

    from backups.models import Backup
    from backups.selectors import summary
    from tenants.models import Tenant

    check = health.BackupAge()
    now = timezone.now()
    active = list(Tenant.objects.filter(state="active"))

    def backed_up(tenant, hours: float, status: str = Backup.Status.OK) -> None:
        Backup.objects.create(
            backup_id=f"{tenant.schema_name}-{hours}-{status}", tenant=tenant,
            schema_name=tenant.schema_name, status=status,
            created_at=now - timedelta(hours=hours),
        )  # fmt: skip

    for tenant in active:
        backed_up(tenant, 1)
    check.probe()  # all fresh: no exception
    Backup.objects.filter(tenant=tenant_b).delete()
    backed_up(tenant_b, 9)
    backed_up(tenant_b, 0.5, Backup.Status.FAILED)  # a failed backup does not count
    with pytest.raises(health.ServiceUnavailable, match=r"9\.0 h"):
        check.probe()
    result = summary(now)
    assert result.backed_up == result.workspaces == len(active)
    assert 9 * 3600 <= result.oldest_age_seconds < 9 * 3600 + 60


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_deep_celery_check_passes_when_a_worker_answers(tmp_path, settings):
    """A real worker (``python -m config.worker``) on the test broker answers the ping
    and serves the default queue."""
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from config.celery import app

    queue = f"test-health-{uuid.uuid4().hex[:8]}"
    default_queue = app.conf.task_default_queue
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", DJANGO_DEBUG="1",
               CELERY_BROKER_URL=settings.CELERY_BROKER_URL)  # fmt: skip
    command = [sys.executable, "-m", "config.worker", "-P", "solo", "-Q", queue,
               "-n", f"{queue}@localhost", "--without-gossip", "--without-mingle"]  # fmt: skip
    log = tmp_path / "worker.log"
    root = Path(__file__).resolve().parents[2]
    with log.open("wb") as out:
        worker = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=out)
    app.conf.task_default_queue = queue  # the queue the check expects a worker for
    try:
        check = health.CeleryWorkers()
        deadline = time.monotonic() + 60
        while True:
            assert worker.poll() is None, log.read_text()
            try:
                check.run()
                break
            except health.ServiceUnavailable:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
        worker.terminate()
        worker.wait(timeout=30)
        with pytest.raises(health.ServiceUnavailable):
            health.CeleryWorkers().run()  # and fails again once it is gone
    finally:
        app.conf.task_default_queue = default_queue
        if worker.poll() is None:
            worker.kill()


@pytest.mark.django_db
@pytest.mark.usefixtures("s3_storage")
def test_ready_probes_s3_buckets_and_reuses_a_success(settings, monkeypatch):
    from tests.servers import BUCKET

    monkeypatch.setattr(health, "_storage_ok", {})
    check = health.ObjectStorage()
    check.run()  # HeadBucket of the moto bucket: there
    assert set(health._storage_ok) == set(health.UPLOAD_STORAGES)
    # A missing bucket fails the check once the last success is older than the TTL.
    entries = {
        alias: {**entry, "OPTIONS": {**entry["OPTIONS"], "bucket_name": f"{BUCKET}-gone"}}
        for alias, entry in settings.STORAGES.items()
        if alias in health.UPLOAD_STORAGES
    }
    settings.STORAGES = {**settings.STORAGES, **entries}
    check.run()  # within HEALTH_STORAGE_TTL: the earlier success stands, no request
    settings.HEALTH_STORAGE_TTL = 0
    with pytest.raises(health.ServiceUnavailable, match="ClientError"):
        check.run()
