"""Prometheus metrics at /metrics: per-view request counts, fleet figures, task outcomes."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from config import metrics
from tenants.selectors import spare_pool_size
from uploads.clamd_process import free_port

ROOT = Path(__file__).resolve().parents[2]
POD = "10.0.0.7:8000"


def scrape(host: str = POD) -> str:
    caches["ops"].delete(metrics.FLEET_KEY)  # fresh fleet figures for this scrape
    response = Client(HTTP_HOST=host).get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` (labels matched as a subset), or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


@pytest.mark.django_db
def test_metrics_are_not_served_on_a_workspace_or_the_public_host(tenant_a):
    for host in ("alpha.localhost", "localhost", "www.localhost"):
        response = Client(HTTP_HOST=host).get("/metrics")
        assert response.status_code == 404, host
        assert b"atrium_" not in response.content


@pytest.mark.parametrize("host", ["10.0.0.7", "10.0.0.7:8000", "[fd00::7]:8000", "fd00::7"])
@pytest.mark.django_db
def test_metrics_are_served_by_ip_address(host):
    assert b"atrium_fleet_metrics_up" in Client(HTTP_HOST=host).get("/metrics").content


@pytest.mark.django_db
def test_metrics_on_an_internal_host_name(settings):
    assert Client(HTTP_HOST="atrium-web.ops").get("/metrics").status_code == 404
    settings.OPS_INTERNAL_HOSTS = ["atrium-web.ops"]
    assert Client(HTTP_HOST="atrium-web.ops:8000").get("/metrics").status_code == 200


@pytest.mark.django_db
def test_requests_are_counted_by_view_method_and_status(tenant_a):
    before = scrape()
    labels = {"view": "accounts:login", "method": "GET", "status": "2xx"}
    start = value(before, "atrium_http_requests_total", **labels) or 0
    client = Client(HTTP_HOST="alpha.localhost")
    for _ in range(3):
        assert client.get("/accounts/login/").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    after = scrape()
    assert value(after, "atrium_http_requests_total", **labels) == start + 3
    assert value(after, "atrium_http_requests_total", view="<unrouted>", status="4xx") >= 1
    count = value(after, "atrium_http_request_duration_seconds_count", view="accounts:login")
    assert count >= 3
    # /metrics and the probes are not requests of the site
    assert value(after, "atrium_http_requests_total", view="<unrouted>", method="GET",
                 status="2xx") is None  # fmt: skip


@pytest.mark.django_db
def test_fleet_figures(tenant_a, tenant_b):
    from tenants.models import Tenant
    from uploads.models import Document

    with schema_context(tenant_a.schema_name):
        doc = Document.objects.create(name="a.pdf", size=1, content_type="application/pdf",
                                      sha256="0" * 64, quarantine_key="q/x")  # fmt: skip
        Document.objects.filter(pk=doc.pk).update(created_at=timezone.now() - timedelta(hours=2))
    connection.set_schema_to_public()
    text = scrape()
    assert value(text, "atrium_fleet_metrics_up") == 1
    active = Tenant.objects.filter(state="active").count()
    assert value(text, "atrium_workspaces", state="active") == active
    assert value(text, "atrium_workspaces", state="deleted") is not None  # zeros shown
    assert value(text, "atrium_spare_pool_size") == spare_pool_size()
    assert value(text, "atrium_scan_backlog_documents") >= 1
    assert value(text, "atrium_scan_oldest_waiting_seconds") >= 2 * 3600
    assert value(text, "atrium_backup_workspaces_without_backup") is not None
    assert value(text, "atrium_audit_seal_lag_seconds") is not None


@pytest.mark.django_db
def test_seal_lag_counts_the_oldest_unsealed_event():
    from audit.models import AuditEvent

    AuditEvent.objects.create(occurred_at=timezone.now() - timedelta(minutes=30), chain="",
                              actor_type="system", action="test.lag")  # fmt: skip
    assert value(scrape(), "atrium_audit_seal_lag_seconds") >= 30 * 60


@pytest.mark.django_db
def test_audit_verification_result_is_exported():
    from audit.tasks import verify_all

    verify_all.apply()
    text = scrape()
    assert value(text, "atrium_audit_chains_broken") is not None
    assert value(text, "atrium_audit_last_verification_timestamp_seconds") > time.time() - 600


@pytest.mark.django_db
def test_task_outcomes_are_counted_fleet_wide():
    from core.tasks import send_email

    def outcomes(text, outcome):
        name = "core.tasks.send_email"
        return value(text, "atrium_celery_tasks_total", task=name, outcome=outcome) or 0

    before = scrape()
    send_email.apply(kwargs={"to": "x@alpha.test", "template": "no-such-template",
                                       "language": "en", "context": {}})  # fmt: skip
    after = scrape()
    assert outcomes(after, "failure") == outcomes(before, "failure") + 1


def get(url: str, host: str) -> str:
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - loopback
    return urllib.request.urlopen(request, timeout=10).read().decode()  # noqa: S310


# Not transactional: gunicorn reads the session's committed baseline.
@pytest.mark.django_db
def test_gunicorn_workers_add_up_in_one_scrape(tmp_path):
    """Under gunicorn (deploy/gunicorn.conf.py, two workers) every scrape, whichever
    worker answers it, counts the requests that every worker served."""
    port = free_port()
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PROMETHEUS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.CACHES["ops"]["LOCATION"],
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
        WEB_CONCURRENCY="2",
        PORT=str(port),
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
               "--no-control-socket", "-b", f"127.0.0.1:{port}",
               "config.wsgi:application"]  # fmt: skip
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz/live", timeout=2)  # noqa: S310
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        # Until both workers have served some (the second may still be booting, and a
        # sync worker can take a quick run of requests alone); bounded in time.
        from concurrent.futures import ThreadPoolExecutor

        def workers_seen() -> int:
            names = [p.name for p in (tmp_path / "prom").glob("counter_*.db")]
            return len({name.rsplit("_", 1)[-1] for name in names})

        total, deadline = 0, time.monotonic() + 60
        with ThreadPoolExecutor(max_workers=8) as pool:
            while total < 40 or (workers_seen() < 2 and time.monotonic() < deadline):
                list(pool.map(lambda _n: get(f"{base}/", "localhost"), range(20)))
                total += 20
        for _ in range(6):  # several scrapes: both workers answer some
            text = get(f"{base}/metrics", "127.0.0.1")
            assert value(text, "atrium_http_requests_total", view="landing", method="GET",
                         status="2xx") == total, text  # fmt: skip
        pids = {p.name for p in (tmp_path / "prom").iterdir()}
        assert len({name.rsplit("_", 1)[-1] for name in pids}) >= 2, pids
        # One JSON line per request on stdout, no access log line of gunicorn's own.
        lines = [line for line in log.read_text().splitlines() if '"message": "request"' in line]
        assert len(lines) == total
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
