"""Scale-out on Citus: where each tenant schema lives, moving one, distributing a fleet.

With Citus schema-based sharding every tenant schema is a *distributed schema*: its
tables live together on one worker node and the coordinator routes each query by
``search_path``, so the rest of Atrium does not know Citus is there. This module holds
the few operations that do know (see deploy/scaling.md):

- ``tenant_move``: move one tenant's schema to another worker, online
  (``citus_schema_move`` copies it with logical replication while the tenant keeps
  working, then blocks its writes for the final catch-up), audited as ``tenant.moved``;
- ``tenants_distribute``: turn the schemas of an existing single-node deployment into
  distributed schemas (``citus_schema_distribute``), audited as ``tenant.distributed``.

On plain PostgreSQL ``citus_enabled()`` is False and both refuse with a clear error.
"""

import time
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.principal import Principal, write_service

from . import schemas
from .models import SpareSchema, Tenant

# Public tables that tenant tables may reference. On Citus each must be a reference table
# (``SELECT create_reference_table('public.<table>')``, copied to every node); none so far.
# tests/test_citus_ready.py keeps every other relation inside the tenant's schema.
REFERENCE_TABLES: frozenset[str] = frozenset()

# A move leaves the old placement behind for Citus to drop later (shard_cleaner.c), with a
# 1 s lock_timeout. While the tenant's traffic still holds it, the next move of that tenant
# is refused ("... leftover from the previous move could not be cleaned up"): wait, clean
# up, and try again, about 15 s in all before giving up with a clear message.
MOVE_RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
_ORPHAN_LEFT = "leftover from the previous move could not be cleaned up"


@dataclass(frozen=True, order=True)
class Node:
    """A Citus worker node, as the coordinator's metadata names it."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> "Node":
        """``host:port`` → Node; a ValidationError for anything else."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValidationError(
                _("%(value)s is not a node; write it as host:port.") % {"value": text}
            )
        return cls(host, int(port))


@dataclass(frozen=True)
class MoveResult:
    tenant: Tenant
    source: Node
    target: Node
    seconds: float


def citus_enabled() -> bool:
    """True when the database has the Citus extension (the coordinator of a cluster)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


def _require_citus() -> None:
    if not citus_enabled():
        raise ValidationError(_("This database is not a Citus coordinator."))


def worker_nodes() -> list[Node]:
    """The active primary nodes that may hold tenant schemas."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE isactive AND shouldhaveshards "
            "AND noderole = 'primary' ORDER BY nodename, nodeport"
        )
        return [Node(host, port) for host, port in cursor.fetchall()]


def placements() -> dict[str, Node]:
    """Each distributed schema → the node that holds its tables (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (s.schemaid) s.schemaid::regnamespace::text, n.nodename, "
            "n.nodeport FROM pg_dist_schema s "
            "JOIN pg_dist_partition p ON p.colocationid = s.colocationid "
            "JOIN pg_dist_shard sh ON sh.logicalrelid = p.logicalrelid "
            "JOIN pg_dist_placement pl ON pl.shardid = sh.shardid "
            "JOIN pg_dist_node n ON n.groupid = pl.groupid"
        )
        return {name: Node(host, port) for name, host, port in cursor.fetchall()}


def node_of(schema_name: str) -> Node | None:
    """The node holding ``schema_name``'s tables; None if it is not distributed."""
    return placements().get(schema_name)


def placement(schema_name: str) -> tuple[Node | None, list[tuple[Node, int]]]:
    """The node holding ``schema_name`` (None if it is not distributed), and every worker
    node with the number of distributed schemas it holds: one read of each catalogue."""
    placed = placements()
    loads = {node: 0 for node in worker_nodes()}
    for node in placed.values():
        if node in loads:
            loads[node] += 1
    return placed.get(schema_name), sorted(loads.items())


def move_check(tenant: Tenant, to: Node | None = None) -> tuple[Node, Node]:
    """Where ``tenant`` is and where a move would take it (``to``, default the least
    loaded other worker): ``(source, target)``, or a ValidationError saying why it cannot
    move. Reads only: the console checks a request with it before queueing the move."""
    _require_citus()
    source, loads = placement(tenant.schema_name)
    if source is None:
        raise ValidationError(
            _("The workspace %(slug)s is not on a worker node yet; distribute it first.")
            % {"slug": tenant.slug}
        )
    others = [(count, node) for node, count in loads if node != source]
    target = to or (min(others)[1] if others else None)
    if target is None or target not in {node for node, _count in loads}:
        raise ValidationError(
            _("%(node)s is not a worker node of this cluster.") % {"node": target or "-"}
        )
    if target == source:
        raise ValidationError(
            _("The workspace %(slug)s is already on %(node)s.")
            % {"slug": tenant.slug, "node": source}
        )
    return source, target


@write_service
def tenant_move(*, actor: Principal, tenant: Tenant, to: Node | None = None) -> MoveResult:
    """Move ``tenant``'s schema to worker ``to`` (default: the least loaded other one).

    Online: the tenant keeps reading and writing while its tables are copied; writes
    wait only for the final catch-up. Cannot run inside a transaction (the copy
    commits as it goes); the audit event is written once the move is done. When the
    old copy of the tenant's previous move is still in use, it waits and retries
    (``MOVE_RETRY_DELAYS``), then refuses with a ValidationError, having changed nothing.
    """
    _require_citus()
    if connection.in_atomic_block:
        raise RuntimeError("tenant_move() must not run inside transaction.atomic().")
    connection.set_schema_to_public()
    source, target = move_check(tenant, to)
    started = time.perf_counter()
    _schema_move(tenant, target)
    seconds = time.perf_counter() - started
    with transaction.atomic():
        audit.record(
            "tenant.moved",
            actor=actor,
            target=tenant,
            tenant=tenant,
            changes={
                "node": {"before": str(source), "after": str(target)},
                "seconds": round(seconds, 3),
            },
        )
    return MoveResult(tenant=tenant, source=source, target=target, seconds=seconds)


def _schema_move(tenant: Tenant, target: Node) -> None:
    for delay in (*MOVE_RETRY_DELAYS, None):
        try:
            with connection.cursor() as cursor:
                # 'auto': logical replication (online) for tables with a replica identity,
                # which every Atrium table has (a primary key).
                cursor.execute(
                    "SELECT citus_schema_move(%s::regnamespace, %s, %s, "
                    "shard_transfer_mode => 'auto')",
                    [schemas.check_schema_name(tenant.schema_name), target.host, target.port],
                )
            return
        except DatabaseError as error:
            if _ORPHAN_LEFT not in str(error):
                raise
            if delay is None:
                raise ValidationError(
                    _(
                        "The previous move of %(slug)s is still being cleaned up: its old "
                        "copy is in use. Nothing was changed; try again in a minute."
                    )
                    % {"slug": tenant.slug}
                ) from error
        time.sleep(delay)
        with connection.cursor() as cursor:
            # Its own 1 s lock_timeout per placement; what it cannot drop yet stays queued.
            cursor.execute("CALL citus_cleanup_orphaned_resources()")


def undistributed_schemas() -> list[str]:
    """Tenant and spare schemas that exist but are not distributed schemas yet."""
    names = list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
    names += list(SpareSchema.objects.values_list("schema_name", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) "
            "AND oid NOT IN (SELECT schemaid FROM pg_dist_schema) ORDER BY nspname",
            [names],
        )
        return [row[0] for row in cursor.fetchall()]


@write_service
def tenants_distribute(*, actor: Principal) -> list[str]:
    """Distribute every tenant and spare schema of a single-node deployment that now runs
    on a Citus coordinator: each schema moves whole onto a worker node, one transaction
    per schema (a failure leaves the others done and that one as it was; run it again).
    Returns the schemas distributed. Idempotent.
    """
    _require_citus()
    connection.set_schema_to_public()
    if not worker_nodes():
        raise ValidationError(_("The cluster has no worker node to place schemas on."))
    by_schema = {t.schema_name: t for t in Tenant.objects.all()}
    done = []
    for name in undistributed_schemas():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT citus_schema_distribute(%s::regnamespace)",
                [schemas.check_schema_name(name)],
            )
            tenant = by_schema.get(name)
            if tenant is not None:
                audit.record(
                    "tenant.distributed",
                    actor=actor,
                    target=tenant,
                    tenant=tenant,
                    changes={"node": str(node_of(name))},
                )
        done.append(name)
    return done
