"""The tenants module's write API: every change to a tenant goes through these.

Each is keyword-only, takes the acting principal (``actor``) and records its
audit event in the same transaction as its change.
"""

from core.principal import Principal, write_service

from . import pool
from .access import tenant_restrict, tenant_unrestrict
from .citus import tenant_move
from .creation import tenant_create, tenant_mark_ready
from .lifecycle import (
    ALLOWED_TRANSITIONS,
    tenant_address_release,
    tenant_reactivate,
    tenant_suspend,
    tenant_transition,
)
from .plan import tenant_plan_set
from .routing import forget_tenant


@write_service
def spare_pool_refill(*, actor: Principal, size: int | None = None) -> int:
    """Top the pool of pre-migrated spare schemas up to ``size`` (default
    ``TENANT_SPARE_POOL_SIZE``); returns how many were made. Audited in the platform's
    chain when it made any (``tenant.spare_pool_refilled``)."""
    return pool.refill(size, actor=actor)


__all__ = [
    "ALLOWED_TRANSITIONS",
    "forget_tenant",
    "spare_pool_refill",
    "tenant_address_release",
    "tenant_create",
    "tenant_mark_ready",
    "tenant_move",
    "tenant_plan_set",
    "tenant_reactivate",
    "tenant_restrict",
    "tenant_suspend",
    "tenant_transition",
    "tenant_unrestrict",
]
