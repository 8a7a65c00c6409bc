"""Atrium on a Citus cluster: where schemas land, moving a tenant online, distributing a
single-node fleet. Runs in ``make test-citus`` against a coordinator and two workers."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from core.principal import SYSTEM
from signup.services import tenant_provision
from tenants import citus, pool, schemas
from tenants.citus import Node
from tenants.models import SpareSchema, Tenant

from ..conftest import PASSWORD


def _is_distributed_table(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass(%s)", [table]
        )
        return cursor.fetchone() is not None


def test_tenants_and_spares_live_on_workers_and_the_pool_stays_local(on_citus, tenant_a):
    workers = set(citus.worker_nodes())
    assert len(workers) == 2
    placed = citus.placements()
    assert placed[tenant_a.schema_name] in workers
    spares = list(SpareSchema.objects.values_list("schema_name", flat=True))
    assert spares and all(placed[name] in workers for name in spares)
    # The pool's SKIP LOCKED claim would serialise on a reference table: it stays local.
    assert not _is_distributed_table("public.tenants_spareschema")
    assert _is_distributed_table(f"{tenant_a.schema_name}.accounts_user")


def test_a_signup_lands_on_a_worker(on_citus, db):
    made = tenant_provision(
        actor=SYSTEM, slug="citus-signup", name="Citus Signup", owner_email="o@citus.test",
        owner_password=PASSWORD,
    )  # fmt: skip
    assert made.path == "pool"
    assert citus.node_of(made.tenant.schema_name) in citus.worker_nodes()
    with schema_context(made.tenant.schema_name):
        assert get_user_model().objects.get().email == "o@citus.test"


def test_moving_to_the_same_or_an_unknown_node_is_refused(committed):
    tenant = Tenant.objects.get(slug="alpha")
    here = citus.node_of(tenant.schema_name)
    with pytest.raises(ValidationError, match="already on"):
        citus.tenant_move(actor=SYSTEM, tenant=tenant, to=here)
    with pytest.raises(ValidationError, match="not a worker node"):
        citus.tenant_move(actor=SYSTEM, tenant=tenant, to=citus.Node("127.0.0.1", 9))
    with pytest.raises(ValidationError, match="host:port"):
        citus.Node.parse("127.0.0.1")
    assert citus.node_of(tenant.schema_name) == here


class _Client(threading.Thread):
    """Writes a row and reads it back, as fast as it can, in one tenant, on its own
    connection: what a busy workspace does while it moves."""

    def __init__(self, schema_name: str) -> None:
        super().__init__(daemon=True)
        self.schema_name = schema_name
        self.stop = threading.Event()
        self.written: list[str] = []
        self.errors: list[Exception] = []
        self.longest_wait = 0.0

    def run(self) -> None:
        expiry = timezone.now() + timezone.timedelta(days=1)
        try:
            with schema_context(self.schema_name):
                i = 0
                while not self.stop.is_set() and i < 20000:
                    key = f"move{i:06d}"
                    started = time.perf_counter()
                    try:
                        Session.objects.create(
                            session_key=key, session_data="x", expire_date=expiry
                        )
                        assert Session.objects.filter(session_key=key).exists()
                    except Exception as error:  # counted: the test fails on any
                        self.errors.append(error)
                    else:
                        self.written.append(key)
                    self.longest_wait = max(self.longest_wait, time.perf_counter() - started)
                    i += 1
        finally:
            connections.close_all()


def test_a_tenant_moves_online_while_a_client_keeps_writing(committed):
    tenant = Tenant.objects.get(slug="alpha")
    source = citus.node_of(tenant.schema_name)
    client = _Client(tenant.schema_name)
    client.start()
    time.sleep(0.5)
    before = len(client.written)
    moved = citus.tenant_move(actor=SYSTEM, tenant=tenant)
    during = len(client.written) - before
    time.sleep(0.3)
    client.stop.set()
    client.join(timeout=30)
    assert not client.errors, client.errors[:3]
    assert moved.source == source and moved.target != source
    assert citus.node_of(tenant.schema_name) == moved.target
    # The client kept working through the move, and every row it wrote is there.
    assert during > 0 and len(client.written) > before
    with schema_context(tenant.schema_name):
        stored = set(
            Session.objects.filter(session_key__startswith="move").values_list(
                "session_key", flat=True
            )
        )
        Session.objects.filter(session_key__startswith="move").delete()
    missing = sorted(set(client.written) - stored)
    assert not missing, (len(client.written), before, during, missing)
    event = AuditEvent.objects.filter(action="tenant.moved", tenant_id=tenant.pk).latest("pk")
    assert event.changes["node"] == {"before": str(source), "after": str(moved.target)}
    assert event.actor_type == "system"


def test_move_tenant_command(committed, capsys):
    tenant = Tenant.objects.get(slug="beta")
    source = citus.node_of(tenant.schema_name)
    target = next(node for node in citus.worker_nodes() if node != source)
    call_command("move_tenant", slug="beta", to=str(target), json=True)
    assert f'"to": "{target}"' in capsys.readouterr().out
    assert citus.node_of(tenant.schema_name) == target


class _OrphanHolder(threading.Thread):
    """Holds the old copy of a just-moved tenant table open on its worker, as a query
    still running there would, so that Citus cannot drop it for ``seconds``, or until
    ``release`` is set, whichever comes first."""

    def __init__(self, schema_name: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.seconds = seconds
        self.release = threading.Event()
        self.done_trying = threading.Event()
        self.held = False
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.object_name, n.nodename, n.nodeport FROM pg_dist_cleanup c "
                "JOIN pg_dist_node n ON n.groupid = c.node_group_id "
                "WHERE c.object_type = 1 AND c.object_name LIKE %s LIMIT 1",
                [f"{schema_name}.%"],
            )
            self.orphan = cursor.fetchone()

    def run(self) -> None:
        import psycopg

        name, host, port = self.orphan
        settings = connection.settings_dict
        try:
            with psycopg.connect(
                host=host, port=port, dbname=settings["NAME"], user=settings["USER"]
            ) as worker:
                # A read in an open transaction keeps its lock until the end, as a
                # long query would (Citus refuses LOCK TABLE on a shard).
                worker.execute(f"SELECT count(*) FROM {name}")
                self.held = True
                self.done_trying.set()
                self.release.wait(self.seconds)
        finally:
            self.done_trying.set()


def _move_with_orphan_held(tenant: Tenant, seconds: float) -> tuple[Node, float]:
    """Move ``tenant`` away, hold its old copy for ``seconds`` (at most: no longer than the
    move back takes), move it straight back. Citus's own cleaner may drop the old copy
    before it is held (every 15 s): then again."""
    for _attempt in range(3):
        home = citus.node_of(tenant.schema_name)
        citus.tenant_move(actor=SYSTEM, tenant=tenant)
        holder = _OrphanHolder(tenant.schema_name, seconds)
        if holder.orphan is None:
            continue
        holder.start()
        assert holder.done_trying.wait(10)
        if holder.held:
            break
        holder.join()
    else:
        pytest.fail("the old copy of every move was dropped before it could be held")
    started = time.perf_counter()
    try:
        citus.tenant_move(actor=SYSTEM, tenant=tenant, to=home)
    finally:
        holder.release.set()
        holder.join(timeout=30)
    return home, time.perf_counter() - started


def test_a_move_waits_for_the_old_copy_of_the_previous_move(committed):
    tenant = Tenant.objects.get(slug="alpha")
    home, waited = _move_with_orphan_held(tenant, seconds=2.0)
    # Refused while the old copy was held (Citus gives up on it after 1 s), done after.
    assert waited >= 2.0
    assert citus.node_of(tenant.schema_name) == home
    moves = AuditEvent.objects.filter(action="tenant.moved", tenant_id=tenant.pk)
    assert moves.latest("pk").changes["node"]["after"] == str(home)


def test_a_move_gives_up_clearly_when_the_old_copy_stays_in_use(committed, monkeypatch):
    monkeypatch.setattr(citus, "MOVE_RETRY_DELAYS", (0.2, 0.2))
    tenant = Tenant.objects.get(slug="alpha")
    # Held for as long as the move keeps trying: three attempts with their clean-ups
    # take about 5 s, but 14 s on a loaded machine (seen in CI, when a 10 s hold ended
    # first and the last attempt went through).
    with pytest.raises(ValidationError, match="still being cleaned up"):
        _move_with_orphan_held(tenant, seconds=120.0)
    # Nothing changed: the tenant stays where the first move put it, and works.
    away = citus.node_of(tenant.schema_name)
    moves = AuditEvent.objects.filter(action="tenant.moved", tenant_id=tenant.pk)
    assert moves.latest("pk").changes["node"]["after"] == str(away)
    with schema_context(tenant.schema_name):
        assert get_user_model().objects.exists()
    monkeypatch.undo()
    back = next(node for node in citus.worker_nodes() if node != away)
    citus.tenant_move(actor=SYSTEM, tenant=tenant, to=back)  # the old copy is free now
    assert citus.node_of(tenant.schema_name) == back


def test_an_existing_single_node_fleet_is_distributed(committed):
    # A deployment from before Citus: its schemas are plain schemas on the coordinator
    # (made here with schema-based sharding off, and without the distributed spares).
    for spare in SpareSchema.objects.all():
        schemas.drop_schema(spare.schema_name)
        spare.delete()
    with connection.cursor() as cursor:
        cursor.execute("SET citus.enable_schema_based_sharding TO off")
    try:
        legacy = tenant_provision(
            actor=SYSTEM,
            slug="legacy",
            name="Legacy",
            owner_email="o@legacy.test",
            owner_password=PASSWORD,
        ).tenant
        pool.make_spare()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET citus.enable_schema_based_sharding")
    assert citus.node_of(legacy.schema_name) is None
    assert legacy.schema_name in citus.undistributed_schemas()

    call_command("distribute_tenants")

    assert citus.undistributed_schemas() == []
    assert citus.node_of(legacy.schema_name) in citus.worker_nodes()
    with schema_context(legacy.schema_name):
        assert get_user_model().objects.get().email == "o@legacy.test"
    assert AuditEvent.objects.filter(action="tenant.distributed", tenant_id=legacy.pk).exists()
    assert call_command("distribute_tenants") is None  # idempotent: nothing left to do
    assert citus.undistributed_schemas() == []
    # Undo: the workspace goes, the pool is refilled with (distributed) spares.
    legacy.domains.all().delete()
    legacy.delete()
    schemas.drop_schema(legacy.schema_name)
    for spare in SpareSchema.objects.all():
        schemas.drop_schema(spare.schema_name)
        spare.delete()
    pool.refill(None, actor=SYSTEM)
