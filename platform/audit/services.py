"""Recording audit events. ``record`` is the one way any module writes to the log."""

from typing import Any

from django.db import connection
from django.utils import timezone

from .context import current
from .masking import mask_changes
from .models import AuditEvent

Target = Any  # a model instance, or a (type, id, display) tuple


def _describe(target: Target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, tuple):
        kind, ident, display = target
        return str(kind), str(ident), str(display)
    meta = getattr(target, "_meta", None)
    kind = meta.label_lower if meta else type(target).__name__.lower()
    return kind, str(getattr(target, "pk", "")), str(target)[:255]


def _current_chain() -> tuple[str, int | None]:
    tenant = getattr(connection, "tenant", None)
    schema = getattr(tenant, "schema_name", "public")
    if schema == "public":
        return "", None
    return schema, getattr(tenant, "pk", None)


def record(
    action: str,
    *,
    target: Target = None,
    changes: dict | None = None,
    tenant=None,
) -> AuditEvent:
    """Write one event in the caller's transaction: it commits or rolls back with the change.

    ``tenant`` picks the tenant's chain; by default the tenant of the current
    schema (the platform's chain on the public schema).
    """
    ctx = current()
    if tenant is not None:
        chain, tenant_id = tenant.schema_name, tenant.pk
    else:
        chain, tenant_id = _current_chain()
    target_type, target_id, target_display = _describe(target)
    impersonator = ctx.impersonator
    return AuditEvent.objects.create(
        occurred_at=timezone.now(),
        chain=chain,
        tenant_id=tenant_id,
        actor_type=ctx.actor.type,
        actor_id=ctx.actor.id,
        actor_display=ctx.actor.display[:255],
        impersonator_id=impersonator.id if impersonator else "",
        impersonator_display=impersonator.display[:255] if impersonator else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_display=target_display,
        ip=ctx.ip,
        user_agent=ctx.user_agent[:512],
        request_id=ctx.request_id,
        changes=mask_changes(changes or {}),
    )
