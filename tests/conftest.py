"""Suite-wide fixtures: a real PostgreSQL test database with a spare-schema pool and
two workspaces (alpha, beta) made once per session, and clients bound to their hosts."""

import contextlib
import fcntl
import gc
import importlib
import time
from pathlib import Path
from typing import NamedTuple

import pytest
from celery._state import _set_task_join_will_block
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.testcases import QuietWSGIRequestHandler
from django.utils import translation
from django_tenants.utils import schema_context
from pytest_django.plugin import blocking_manager_key

from core.principal import SYSTEM
from signup.services import tenant_provision
from tenants import pool, routing
from tenants.models import Tenant
from tests.servers import clamd_server, s3_server  # noqa: F401 - fixtures, registered once

PASSWORD = "Correct-horse-battery-9"

# The live server writes a response's headers and its body in two sends; with Nagle's
# algorithm on, the body waits for the client's delayed ACK of the headers (up to 40 ms
# on Linux) on every kept-alive request. Off, the schemathesis run of tests/api makes
# 1,100 requests in its 50 s instead of 630.
QuietWSGIRequestHandler.disable_nagle_algorithm = True

WORKSPACES = {
    "alpha": {"name": "Alpha Partners", "owner_email": "owner@alpha.test"},
    "beta": {"name": "Beta Partners", "owner_email": "owner@beta.test"},
}


def ensure_baseline() -> None:
    """Plans, the two workspaces and a full spare pool, (re)made where missing.

    Tests that need real commits (``transactional_db``, ``live_server``) end
    with Django flushing every public table, which also removes the plans of a
    data migration and the rows of the session's workspaces; this puts them back.
    """
    from django.apps import apps as django_apps

    from billing.models import Plan
    from tenants import schemas

    connection.set_schema_to_public()
    if not Plan.objects.exists():
        importlib.import_module("billing.migrations.0002_default_plans").create_plans(
            django_apps, None
        )
        importlib.import_module("billing.migrations.0005_prices").create_prices(django_apps, None)
    # Spare and tenant schemas whose rows were flushed are orphans: drop them.
    _drop_orphan_schemas()
    _fill_pool()
    for slug, data in WORKSPACES.items():
        if not Tenant.objects.filter(slug=slug).exists():
            schemas.drop_schema(f"t_{slug}")
            tenant_provision(
                actor=SYSTEM,
                slug=slug,
                name=data["name"],
                owner_email=data["owner_email"],
                owner_password=PASSWORD,
                owner_name=f"{data['name']} Owner",
            )
    # The suite's own signups come from this pool; keep it full.
    _fill_pool()


class BaselineSnapshot:
    """A copy of the baseline's rows, taken once, put back after each test that committed.

    Such a test ends with Django's flush, which would empty every public table and
    leave the baseline to be rebuilt: its schemas dropped and four new ones migrated
    (``ensure_baseline``, seconds each). But the schemas are still there and still
    right: only rows changed. So the flush does nothing while a snapshot exists, and
    the restore, in one transaction, deletes the rows of the public tables that the
    flush would have emptied and of the two workspaces' tables, and copies the
    snapshot's rows back: a fraction of a second. A schema the snapshot needs that is
    gone, or a table whose shape changed, makes it give up: the caller flushes and
    rebuilds as before.
    """

    SCHEMA = "test_baseline_snapshot"

    def __init__(self) -> None:
        self.tables: list[tuple[str, str]] = []  # (schema, table); copy: SCHEMA.s<index>

    def take(self) -> None:
        connection.set_schema_to_public()
        workspaces = Tenant.objects.filter(slug__in=WORKSPACES).values_list("schema_name")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s) "
                "ORDER BY schemaname, tablename",
                [[schema for (schema,) in workspaces]],
            )
            tables = [("public", t) for t in _flushed_tables(connection)] + cursor.fetchall()
            cursor.execute(f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE")
            cursor.execute(f"CREATE SCHEMA {self.SCHEMA}")
            for index, (schema, table) in enumerate(tables):
                cursor.execute(f'CREATE TABLE {self.SCHEMA}.s{index} AS TABLE "{schema}"."{table}"')
        self.tables = tables

    def restore(self) -> bool:
        """Put the baseline's rows back; False (and nothing changed) when it cannot."""
        from django.contrib.contenttypes.models import ContentType
        from django.db import DatabaseError, transaction

        from tenants.models import SpareSchema

        connection.set_schema_to_public()
        if not self.tables or {schema for schema, _ in self.tables} - _namespaces():
            return False
        # Spares the test made (a signup's refill) are whole, migrated schemas: kept.
        spares = list(SpareSchema.objects.values_list("schema_name", "fingerprint"))
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                for index, (schema, table) in enumerate(self.tables):
                    cursor.execute(f'DELETE FROM "{schema}"."{table}"')
                    cursor.execute(
                        f'INSERT INTO "{schema}"."{table}" SELECT * FROM {self.SCHEMA}.s{index}'
                    )
        except DatabaseError:
            return False
        ContentType.objects.clear_cache()  # a test may have cached other rows' ids
        # A spare that a test claimed was renamed into its workspace: out of the pool.
        existing = _namespaces()
        SpareSchema.objects.exclude(schema_name__in=existing).delete()
        pooled = set(SpareSchema.objects.values_list("schema_name", flat=True))
        SpareSchema.objects.bulk_create(
            SpareSchema(schema_name=name, fingerprint=fingerprint)
            for name, fingerprint in spares
            if name in existing and name not in pooled
        )
        _drop_orphan_schemas()
        _fill_pool()
        return True

    def follow_pool(self) -> None:
        """The pool is the one part of the baseline that moves: the snapshot follows it,
        taken again before each test that commits (``pytest_runtest_setup``), so the
        restore after it starts from the pool as that test found it."""
        from tenants.models import SpareSchema

        connection.set_schema_to_public()
        index = self.tables.index(("public", SpareSchema._meta.db_table))
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.SCHEMA}.s{index}")
            cursor.execute(
                f"INSERT INTO {self.SCHEMA}.s{index} SELECT * FROM {SpareSchema._meta.db_table}"
            )


def _fill_pool(timeout: float = 60.0) -> None:
    """Top the spare pool up to its size, waiting for a refill that another connection
    is still making (the live server's thread, or a server or worker a test started,
    may outlive the request that began it). ``pool.refill`` returns 0 at once while
    another holds its lock; the snapshot taken next would then miss the spares that
    refill goes on to make, and a later restore would drop them as orphans and migrate
    new ones."""
    deadline = time.monotonic() + timeout
    while True:
        pool.refill(settings.TENANT_SPARE_POOL_SIZE, actor=SYSTEM)
        if pool.fresh_spare_count() >= settings.TENANT_SPARE_POOL_SIZE:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the spare pool did not fill up: is a refill stuck?")
        time.sleep(0.05)


def _namespaces() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def _drop_orphan_schemas() -> None:
    """Drop the spare and workspace schemas that no row knows (a flushed or a test's own)."""
    from tenants import schemas
    from tenants.models import SpareSchema

    known = set(SpareSchema.objects.values_list("schema_name", flat=True))
    known |= set(Tenant.objects.values_list("schema_name", flat=True))
    for name in _namespaces():
        if name.startswith(("spare_", "t_")) and name not in known:
            schemas.drop_schema(name)


def _flushed_tables(connection) -> list[str]:
    """The tables Django's flush empties here: every public table but the audit log's."""
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    return [t for t in tables if not t.startswith("audit_")]


BASELINE = BaselineSnapshot()


@pytest.fixture(scope="session", autouse=True)
def _flush_spares_the_audit_log():
    """Django ends a test that committed for real with a flush (TRUNCATE of every
    table). The audit tables refuse TRUNCATE by design, so the flush leaves them
    out; their rows stay, as they would in production. While the baseline has a
    snapshot, the flush leaves every table alone: the restore resets them."""
    from django.core.management.commands import flush

    def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        if BASELINE.tables:
            return []
        return connection.ops.sql_flush(
            style,
            _flushed_tables(connection),
            reset_sequences=reset_sequences,
            allow_cascade=allow_cascade,
        )

    patcher = pytest.MonkeyPatch()
    patcher.setattr(flush, "sql_flush", sql_flush)
    yield
    patcher.undo()


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
    tmp_path_factory,
):
    """pytest-django's test database (its ``django_db_setup``, without serializing the
    rows: no test uses ``serialized_rollback``), with the baseline in it.

    Under pytest-xdist the first worker to get there builds it once, migrated and with
    its baseline, and every worker copies it (``CREATE DATABASE ... TEMPLATE``, as
    Django's own parallel runner does, ``clone_test_db``): otherwise each worker
    migrates and fills its own, all at the same time, 10-15 s of CPU apiece. The built
    database stays for the next run, which copies it as it is while nothing it was built
    from changed (``tests/template_database.py``). A run without workers (one file, say)
    copies it too, as ``test_atrium_main``: it starts as fast, and leaves the shared
    database for the next run. ``--reuse-db`` (the Citus lane's database, made with the
    extension on every node) keeps pytest-django's own way."""
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    keepdb = django_db_keepdb and not django_db_createdb
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    with django_db_blocker.unblock():
        if worker or not keepdb:
            # The flag that says the shared database is ready lives for one run: in the
            # run's temporary folder, which the workers' own folders are in.
            base = tmp_path_factory.getbasetemp()
            db_cfg = _copy_of_a_shared_database(
                worker or "main", base.parent if worker else base, verbosity, django_db_createdb
            )
        else:
            db_cfg = setup_databases(
                verbosity=verbosity, interactive=False, keepdb=keepdb, serialized_aliases=set()
            )
        patcher = _copy_spares_from_now_on()
        ensure_baseline()
        BASELINE.take()
    yield
    patcher.undo()
    if not keepdb:
        staging = f"{connection.settings_dict['NAME']}_restore_staging"
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=verbosity)
            _drop_database(staging)  # the backup tests' (backups.pgtools.staging_database)


def _drop_database(name: str) -> None:
    """Drop ``name`` if it exists, from the server's maintenance database (Django's own
    connection to it, as ``tests/template_database.py`` uses)."""
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")


@contextlib.contextmanager
def _exclusive(path: Path):
    """One process at a time among the xdist workers (pytest-xdist's documented pattern
    uses the filelock package; flock is all it needs here)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_of_a_shared_database(worker: str, shared: Path, verbosity: int, rebuild: bool) -> list:
    """This worker's database (``test_atrium_gw0``), copied from ``test_atrium``, which the
    first worker builds unless an earlier run left it built from the same inputs
    (``tests/template_database.py``; ``--create-db`` builds it anyway); what
    ``teardown_databases`` needs to drop the copy."""
    from django.db import connections
    from django.test.utils import setup_databases

    from tests import template_database

    settings_dict = connection.settings_dict
    original_name = settings_dict["NAME"]
    template = settings_dict["TEST"]["NAME"].removesuffix(f"_{worker}")
    ready = shared / "test-database.ready"
    with _exclusive(shared / "test-database.lock"):
        if not ready.exists():
            inputs = template_database.fingerprint()
            if rebuild or not template_database.is_current(template, inputs):
                settings_dict["TEST"]["NAME"] = template
                setup_databases(verbosity=verbosity, interactive=False, serialized_aliases=set())
                patcher = _copy_spares_from_now_on()
                try:
                    ensure_baseline()
                finally:
                    patcher.undo()
                template_database.mark_current(template, inputs)
            ready.write_text(template)
        settings_dict["NAME"] = template
        connections.close_all()  # a template must have no session open on it
        connection.creation.clone_test_db(suffix=worker, verbosity=verbosity, keepdb=False)
    copy = connection.creation.get_test_db_clone_settings(worker)["NAME"]
    settings_dict["NAME"] = settings.DATABASES["default"]["NAME"] = copy
    settings_dict["TEST"]["NAME"] = copy
    return [(connection, original_name, True)]


def _copy_spares_from_now_on() -> pytest.MonkeyPatch:
    """One schema migrated for real (the reference, made once per database, outside the
    pool), then the pool's spares are copies of it (see tests/spares.py): the baseline,
    and the refill after every committed signup."""
    from tests.spares import CLONER

    patcher = pytest.MonkeyPatch()
    connection.set_schema_to_public()
    if CLONER.wanted():
        reference = CLONER.migrated_reference()
        if CLONER.template != reference:  # the builder's copy of the database has it dumped
            CLONER.take(reference)
        patcher.setattr(pool, "make_spare", CLONER.make_spare)
    return patcher


# Tests that take seconds: first. `make test`'s `--dist loadscope --no-loadscope-reorder`
# hands out whole modules in this order, so the long ones start at once on different
# workers instead of piling up on whichever worker draws them at the end.
LONG_MARKERS = ("slow", "browser", "faults")  # the longest kinds first


# Modules that spend most of their time waiting (for processes they start, stop and
# kill, back-offs, timeouts), not computing. Run at the same time on two workers, they
# leave a core idle; so `make test` hands them to one worker, in a row, as one unit,
# first, while the other workers run the modules that keep the cores busy.
WAITING_MODULES = (
    "tests/faults/test_worker_faults.py",
    "tests/faults/test_supervise.py",
    "tests/faults/test_redis_outage.py",
    "tests/deploy/test_local_services.py",
    "tests/ops/test_health.py",
    "tests/test_worker.py",
)


def _mostly_waits(nodeid: str) -> bool:
    return nodeid.split("::", 1)[0] in WAITING_MODULES


def _length_rank(item: pytest.Item) -> int:
    if _mostly_waits(item.nodeid):
        return -1
    found = [rank for rank, m in enumerate(LONG_MARKERS) if item.get_closest_marker(m)]
    return min(found, default=len(LONG_MARKERS))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_length_rank)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadscope``, with ``WAITING_MODULES`` as one unit of work."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WaitersTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if _mostly_waits(nodeid):
                return "waiting modules"
            return super()._split_scope(nodeid)

    return WaitersTogether(config, log)


@pytest.fixture(autouse=True)
def _isolated_state():
    """Every test starts on the public schema with empty routing caches, and ends in the
    default language and with them emptied again: a route a test cached (a host it made
    unknown, in a transaction since rolled back) would otherwise be served to the next
    module's servers, whose module-scoped fixtures run before this one's setup."""
    routing.clear_local()
    caches["routing"].clear()
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
    routing.clear_local()
    caches["routing"].clear()
    translation.deactivate()  # a test that switched language must not leak it
    # Celery marks "inside an eager task" in one process-wide flag, set and restored
    # around each eager call. Two of the live server's request threads running eager
    # tasks at once can restore it out of order and leave it set (seen after
    # tests/billing/test_emulator_delivery.py); every later `result.get()` on this
    # worker would then fail with "Never call result.get() within a task!".
    _set_task_join_will_block(False)


def _committed_for_real(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    return transactional or bool({"transactional_db", "live_server"} & set(item.fixturenames))


def pytest_configure(config: pytest.Config) -> None:
    # pytest-django's live_server asks the kernel for a port (port 0), which comes from
    # the ephemeral range; local services stay below it (uploads.clamd_process).
    if not config.option.liveserver:
        from uploads.clamd_process import free_port

        config.option.liveserver = f"127.0.0.1:{free_port()}"
    # The cyclic garbage collector every 50,000 new objects instead of every 700: a
    # worker holds Django, every test module and their fixtures, and the default
    # thresholds spent 2-4 s per worker collecting them again and again (8.7-8.9 s of
    # the three workers' CPU in two full runs, 3.1-3.5 s with this). Nothing here
    # depends on when garbage is collected; memory stays within tens of MB of what it was.
    gc.set_threshold(50_000, 20, 20)


def pytest_collection_finish(session: pytest.Session) -> None:
    # What the collection loaded (Django, the project, every test module: about 190,000
    # objects) lives until the end: out of the collector's way, so its full collections,
    # and pytest's two at the end of each worker (0.4-0.5 s each), skip it.
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a test that commits, the snapshot takes the pool as it is now: another
    connection may have changed it since the last restore (see ``_fill_pool``), and a
    restore from a stale snapshot would drop the new spares as orphans and migrate
    others (seen once: ``test_baseline`` found two spares it had not started with)."""
    if _committed_for_real(item) and BASELINE.tables:
        with item.config.stash[blocking_manager_key].unblock():
            BASELINE.follow_pool()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a test that committed for real, and after Django's flush that ends
    it, restore the baseline (a hook, because fixture teardown runs before the flush):
    from the snapshot when it can, else rebuilt (and snapshotted again)."""
    yield
    if _committed_for_real(item) and nextitem is not None:  # else the database is gone
        with item.config.stash[blocking_manager_key].unblock():
            if not BASELINE.restore():
                _flush_now()
                ensure_baseline()
                BASELINE.take()


def _flush_now() -> None:
    """What Django's flush would have done (the patched one defers to the restore)."""
    from django.core.management.color import no_style

    connection.set_schema_to_public()
    statements = connection.ops.sql_flush(no_style(), _flushed_tables(connection))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.get(slug="beta")


def host_of(tenant: Tenant) -> str:
    return f"{tenant.slug}.{settings.BASE_DOMAIN}"


def client_for(tenant: Tenant | None) -> Client:
    """A test client whose requests go to ``tenant``'s host (the public site for None)."""
    return Client(HTTP_HOST=host_of(tenant) if tenant else settings.BASE_DOMAIN)


@pytest.fixture
def public_client(db) -> Client:
    return client_for(None)


@pytest.fixture
def client_a(tenant_a) -> Client:
    return client_for(tenant_a)


@pytest.fixture
def client_b(tenant_b) -> Client:
    return client_for(tenant_b)


def user_of(tenant: Tenant, email: str):
    from django.contrib.auth import get_user_model

    with schema_context(tenant.schema_name):
        return get_user_model().objects.get(email=email)


@pytest.fixture
def owner_a(tenant_a):
    return user_of(tenant_a, WORKSPACES["alpha"]["owner_email"])


@pytest.fixture
def owner_client_a(tenant_a, owner_a) -> Client:
    client = client_for(tenant_a)
    assert sign_in(client, owner_a.email)
    return client


def sign_in(client: Client, email: str, password: str = PASSWORD) -> bool:
    """Sign in through the real login form on the client's host."""
    response = client.post("/accounts/login/", {"username": email, "password": password})
    return response.status_code == 302


@pytest.fixture
def real_broker():
    """Tasks published to the test Redis instead of run eagerly; the queue starts empty,
    and so does the webhook dispatcher's wake-up flag (a dispatch nobody ran would
    leave it set for the next test)."""
    from billing import dispatch_flag
    from config.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write() as conn:
        queue = conn.SimpleQueue("celery")
        queue.clear()
        dispatch_flag.release()
        yield queue
        queue.clear()
        dispatch_flag.release()
        queue.close()
    celery_app.conf.task_always_eager = True


class TaskMessage(NamedTuple):
    name: str
    args: list
    kwargs: dict
    headers: dict
    raw: object  # kombu's message

    def ack(self) -> None:
        self.raw.ack()


def _decoded(message) -> TaskMessage:
    args, kwargs, _embed = message.payload  # kombu's JSON: datetimes come back as such
    return TaskMessage(message.headers["task"], args, kwargs, message.headers, message)


def next_task(queue, timeout: float = 5) -> TaskMessage:
    """The next task message on the broker, decoded as a worker decodes it: for a message
    the test expects (it returns as soon as the message is there)."""
    return _decoded(queue.get(timeout=timeout))


def waiting_tasks(queue) -> list[TaskMessage]:
    """Every task message on the broker now, taken off without waiting for more.

    For "nothing (more) was queued": the code under test publishes before it returns, so
    a message it sent is already there. A read with a timeout that runs out would leave
    kombu's BRPOP pending on Redis, and closing the connection then waits for the rest of
    that command's whole second (0.7 s a test, measured)."""
    found = []
    while True:
        try:
            found.append(_decoded(queue.get(block=False)))
        except queue.Empty:
            return found
