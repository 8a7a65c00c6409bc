"""The pool of spare schemas: pre-migrated schemas waiting to become a tenant's.

A signup claims one with ``SELECT … FOR UPDATE SKIP LOCKED`` and renames it
(``ALTER SCHEMA … RENAME``, a catalogue update that takes a millisecond), so
signup time does not grow with the number of migrations or of tenants. The
fleet migration executor migrates spares along with every tenant schema and
refreshes their fingerprint; a spare with a stale fingerprint is never claimed.
"""

import logging
import uuid

from django.conf import settings
from django.db import connection, transaction

import audit.services as audit
from core.principal import Principal

from . import schemas
from .models import SpareSchema

logger = logging.getLogger(__name__)

# Serialises refills across workers so the pool does not overshoot its size.
_REFILL_LOCK_ID = 0x41545249  # "ATRI"


def claim_spare_into(schema_name: str) -> bool:
    """Rename a spare schema to ``schema_name``; False when no fresh spare is left.

    Must run inside the caller's transaction: if that rolls back, the rename
    does too and the spare returns to the pool.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("claim_spare_into() must run inside transaction.atomic().")
    # One round trip takes the oldest fresh spare that no other signup holds.
    table = connection.ops.quote_name(SpareSchema._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id = ("  # noqa: S608 - a model's table name
            f"SELECT id FROM {table} WHERE fingerprint = %s "
            "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING schema_name",
            [schemas.current_fingerprint()],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    schemas.rename_schema(row[0], schema_name)
    return True


def make_spare() -> str:
    """Create, migrate and register one spare schema, all or nothing."""
    name = f"spare_{uuid.uuid4().hex[:16]}"
    with transaction.atomic():
        schemas.create_schema(name)
        schemas.migrate_schema(name)
        SpareSchema.objects.create(schema_name=name, fingerprint=schemas.current_fingerprint())
    return name


def discard_stale_spares() -> int:
    """Drop spares that the fleet migrations have not brought up to date."""
    dropped = 0
    for spare in SpareSchema.objects.exclude(fingerprint=schemas.current_fingerprint()):
        with transaction.atomic():
            schemas.drop_schema(spare.schema_name)
            spare.delete()
        dropped += 1
    return dropped


def refill(size: int | None, *, actor: Principal) -> int:
    """Top the pool up to ``size`` fresh spares; returns how many were made (see
    ``tenants.services.spare_pool_refill``, the face callers use).

    Returns 0 at once when another process is already refilling.
    """
    size = settings.TENANT_SPARE_POOL_SIZE if size is None else size
    connection.set_schema_to_public()
    if getattr(connection, "transaction_pooling", False):
        # Behind a transaction-mode pooler a session lock stays on whichever server
        # connection took it (and the unlock may reach another): one transaction, and
        # a lock that ends with it.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_REFILL_LOCK_ID])
                if not cursor.fetchone()[0]:
                    return 0
            return _top_up(size, actor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_REFILL_LOCK_ID])
        if not cursor.fetchone()[0]:
            return 0
    try:
        return _top_up(size, actor)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_REFILL_LOCK_ID])


def _top_up(size: int, actor: Principal) -> int:
    discard_stale_spares()
    made = 0
    fresh = SpareSchema.objects.filter(fingerprint=schemas.current_fingerprint()).count()
    while fresh + made < size:
        make_spare()
        made += 1
    if made:
        logger.info("spare schema pool: made %d, now %d", made, fresh + made)
        with transaction.atomic():
            audit.record(
                "tenant.spare_pool_refilled",
                actor=actor,
                changes={"created": made, "ready": fresh + made},
            )
    return made


def fresh_spare_count() -> int:
    return SpareSchema.objects.filter(fingerprint=schemas.current_fingerprint()).count()
