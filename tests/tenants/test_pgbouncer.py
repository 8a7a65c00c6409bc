"""Behind a real PgBouncer in transaction mode no client ever sees another
workspace's rows: over HTTP (gunicorn) and in Celery tasks, with many concurrent
clients of different workspaces sharing fewer server connections.

The same load with ``DATABASE_POOLING=session`` (today's session-level search_path)
must show the leak, so this test can fail.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django_tenants.utils import schema_context

from config.celery import app as celery_app
from tenants.models import Tenant
from tenants.pgbouncer_process import PgBouncerProcess, pgbouncer_binary, port_in_use
from uploads.clamd_process import free_port

from .pooled_site.probe import visible_rows

ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE = 2  # server connections pgbouncer keeps per database
WEB_WORKERS = 4  # gunicorn sync workers: clients of pgbouncer
TASK_WORKERS = 4  # Celery prefork children: clients of pgbouncer
HTTP_CLIENTS = 12  # concurrent HTTP clients
REQUESTS = 160  # per mode and round, HTTP
TASKS = 80  # per mode and round, Celery
LEAK_BUDGET = 6  # rounds of the above the session mode gets to show its leak

pytestmark = [
    pytest.mark.slow,
    # Reads only the session's baseline (committed); the servers see no test transaction.
    pytest.mark.django_db,
    pytest.mark.skipif(
        pgbouncer_binary() is None,
        reason="pgbouncer is missing: install Debian's pgbouncer (make test does)",
    ),
    # send_task publishes for real even with the test settings' eager mode.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


@pytest.fixture(scope="module")
def bouncer(django_db_setup):
    from django.db import connection

    db = connection.settings_dict
    process = PgBouncerProcess(
        server_host=db["HOST"], server_port=int(db["PORT"]), server_user=db["USER"],
        pool_size=POOL_SIZE,
    )  # fmt: skip
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def expected(django_db_setup, django_db_blocker) -> dict[str, dict]:
    """What each host's (and schema's) clients must see: its own rows only."""
    with django_db_blocker.unblock():
        seen = {}
        for slug in ("alpha", "beta"):
            tenant = Tenant.objects.get(slug=slug)
            with schema_context(tenant.schema_name):
                seen[f"{slug}.{settings.BASE_DOMAIN}"] = visible_rows()
        with schema_context("public"):
            seen[settings.BASE_DOMAIN] = visible_rows()
    answers = [json.dumps(v, sort_keys=True) for v in seen.values()]
    assert len(set(answers)) == len(answers)  # every schema's rows tell it apart
    return seen


class Site:
    """gunicorn and a Celery worker on the pooled-site settings, through ``bouncer``."""

    def __init__(self, bouncer: PgBouncerProcess, mode: str, web_port: int, log_dir: Path) -> None:
        from django.db import connection

        db = connection.settings_dict
        self.queue = f"pooling-{mode}-{uuid.uuid4().hex[:6]}"
        self.web_port = web_port
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="tests.tenants.pooled_site.settings",
            DATABASE_URL=bouncer.url(db["NAME"], db["USER"]),
            DATABASE_POOLING=mode,
            DB_CONN_MAX_AGE="60",
            LOG_LEVEL="WARNING",
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        )
        self.log = log_dir / f"{mode}.log"
        with self.log.open("ab") as out:
            self.web = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn", "config.wsgi:application",
                    "--workers", str(WEB_WORKERS), "--bind", f"127.0.0.1:{self.web_port}",
                    "--log-level", "warning",
                    # Django loaded once, then forked: the workers' boots were most of
                    # this test's CPU. No connection is opened before the fork (Django
                    # connects on first use), so each worker is still its own client.
                    "--preload",
                ],
                cwd=ROOT, env=env, stdout=out, stderr=out,
            )  # fmt: skip
            self.worker_name = f"{self.queue}@localhost"
            self.worker = subprocess.Popen(
                [
                    sys.executable, "-m", "config.worker", "-P", "prefork",
                    "-c", str(TASK_WORKERS), "-Q", self.queue, "-n", self.worker_name,
                    "--without-gossip", "--without-mingle",
                ],
                cwd=ROOT, env=env, stdout=out, stderr=out,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        web_up = worker_up = False
        while not (web_up and worker_up):
            assert time.monotonic() < deadline, f"site did not start:\n{self.log.read_text()}"
            for process in (self.web, self.worker):
                assert process.poll() is None, self.log.read_text()
            if not web_up:
                try:
                    self.get(settings.BASE_DOMAIN, "atomic")
                    web_up = True
                except OSError:
                    time.sleep(0.2)
            if not worker_up:
                worker_up = bool(celery_app.control.ping([self.worker_name], timeout=0.5))

    def get(self, host: str, view: str) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}/{view}/", headers={"Host": host}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return {"error": error.code}

    def stop(self) -> None:
        # Quick shutdowns: gunicorn's SIGINT and Celery's cold SIGQUIT, nothing to finish.
        self.web.send_signal(signal.SIGINT)
        self.worker.send_signal(signal.SIGQUIT)
        for process in (self.web, self.worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def load(site: Site, expected: dict[str, dict]) -> Counter:
    """One round: HTTP requests and Celery tasks of every schema at once, interleaved.
    Counts the answers that are right, leaked (another schema's rows) or errors."""
    outcome: Counter = Counter()
    lock = threading.Lock()
    hosts = list(expected)
    by_schema = {v["schema"]: v for v in expected.values()}

    def judge(answer: dict, want: dict, how: str) -> None:
        got = {k: answer.get(k) for k in ("schema", "emails", "count")}
        verdict = "ok" if got == want else ("error" if "error" in answer else "leak")
        with lock:
            outcome[verdict] += 1
            outcome[f"{verdict} ({how})"] += 1

    def one_request(n: int) -> None:
        host = hosts[n % len(hosts)]
        view = ("atomic", "autocommit")[(n // len(hosts)) % 2]
        judge(site.get(host, view), expected[host], f"http {view}")

    reply_key = f"pooling-replies-{uuid.uuid4().hex}"
    schemas = list(by_schema)
    for n in range(TASKS):
        celery_app.send_task(
            "tests.tenants.pooled_site.tasks.probe_schema",
            args=(schemas[n % len(schemas)], reply_key), queue=site.queue,
        )  # fmt: skip
    with ThreadPoolExecutor(HTTP_CLIENTS) as pool:
        list(pool.map(one_request, range(REQUESTS)))
    replies = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for _ in range(TASKS):
        reply = replies.blpop(reply_key, timeout=60)
        assert reply is not None, f"a probe task did not answer:\n{site.log.read_text()}"
        seen = json.loads(reply[1])
        judge(seen, by_schema[seen["asked"]], "celery")
    replies.delete(reply_key)
    return outcome


@pytest.fixture(scope="module")
def outcomes(bouncer, expected, tmp_path_factory) -> dict[str, Counter]:
    """Both modes' sites at once on the same pgbouncer, under the same load: the
    session-mode clients leave session-level paths on the shared server connections,
    which the transaction-mode clients must never pick up."""
    log_dir = tmp_path_factory.mktemp("pooled-sites")
    # gunicorn on the ports after pgbouncer's (loopback, below 32768, one set per PGPORT).
    ports = {mode: bouncer.port + n for n, mode in enumerate(("transaction", "session"), 1)}
    taken = [port for port in ports.values() if port_in_use(port)]
    # A stray server there would answer the readiness probe instead of ours.
    assert not taken, f"127.0.0.1:{taken} already in use: stop what listens there"
    sites = {mode: Site(bouncer, mode, port, log_dir) for mode, port in ports.items()}
    totals = {mode: Counter() for mode in sites}
    try:
        for site in sites.values():
            site.wait_ready()
        with ThreadPoolExecutor(len(sites)) as runner:
            for _ in range(LEAK_BUDGET):
                rounds = {mode: runner.submit(load, site, expected) for mode, site in sites.items()}
                for mode, future in rounds.items():
                    totals[mode] += future.result()
                session = totals["session"]
                if (
                    session["leak (celery)"]
                    and session["leak (http atomic)"] + session["leak (http autocommit)"]
                ):
                    break
    finally:
        for site in sites.values():
            site.stop()
    totals["log"] = "\n".join(site.log.read_text() for site in sites.values())
    return totals


def test_transaction_pooling_never_leaks_a_row(outcomes):
    outcome = outcomes["transaction"]
    assert outcome["leak"] == 0, dict(outcome)
    assert outcome["error"] == 0, (dict(outcome), outcomes["log"])
    assert outcome["ok (http atomic)"] and outcome["ok (http autocommit)"], dict(outcome)
    assert outcome["ok (celery)"] == outcome["ok"] // (REQUESTS + TASKS) * TASKS


def test_session_level_path_leaks_behind_transaction_pooling(outcomes):
    """The control: the same load with the setting off reads other schemas' rows (if it
    did not, the test above would prove nothing)."""
    outcome = outcomes["session"]
    assert outcome["leak (http atomic)"] + outcome["leak (http autocommit)"] > 0, dict(outcome)
    assert outcome["leak (celery)"] > 0, dict(outcome)


def test_a_taken_port_is_refused_not_talked_to(django_db_setup):
    """A stray server on the port would answer the readiness probe: refuse to start."""
    from django.db import connection

    db = connection.settings_dict
    with socket.create_server(("127.0.0.1", free_port())) as stray:
        process = PgBouncerProcess(
            server_host=db["HOST"], server_port=int(db["PORT"]), server_user=db["USER"],
            port=stray.getsockname()[1],
        )  # fmt: skip
        try:
            with pytest.raises(RuntimeError, match="already in use"):
                process.start()
            assert process.process is None  # nothing was started
        finally:
            process.close()
