"""The audit log's write API. ``record`` is the one way any module writes to the log.

Also here: the chain maintenance that commands and tasks call (``seal_chain``,
``checkpoint_chain``, ``verify_chain``, ``apply_retention``) and the per-tenant
retention override (``retention_set``).
"""

import ipaddress
import json
import logging
import re
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .chain import (
    RetentionResult,
    VerifyResult,
    apply_retention,
    checkpoint_chain,
    known_chains,
    seal_chain,
    verify_chain,
)
from .context import current
from .hashing import EVENT_CONTENT_COLUMNS
from .masking import mask_changes
from .models import AuditEvent, AuditRetention

__all__ = [
    "RetentionResult",
    "VerifyResult",
    "apply_retention",
    "checkpoint_chain",
    "known_chains",
    "record",
    "retention_days",
    "retention_set",
    "seal_chain",
    "verify_chain",
]

logger = logging.getLogger(__name__)

Target = Any  # a model instance, or a (type, id, display) tuple

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text(value: Any, limit: int) -> str:
    """Display strings are kept as single-line text: no control characters (log
    injection, and the hash's field separator) and cut to the column's size."""
    return _CONTROL.sub(" ", str(value))[:limit]


def _describe(target: Target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, tuple):
        kind, ident, display = target
        return _text(kind, 100), _text(ident, 64), _text(display, 255)
    meta = getattr(target, "_meta", None)
    kind = meta.label_lower if meta else type(target).__name__.lower()
    return _text(kind, 100), _text(getattr(target, "pk", ""), 64), _text(target, 255)


def _current_chain() -> tuple[str, int | None]:
    tenant = getattr(connection, "tenant", None)
    schema = getattr(tenant, "schema_name", "public")
    if schema == "public":
        return "", None
    return schema, getattr(tenant, "pk", None)


_INSERT_SQL = (  # a constant: column names from EVENT_CONTENT_COLUMNS, values bound
    f'INSERT INTO "audit_auditevent" ({", ".join(EVENT_CONTENT_COLUMNS)}) '  # noqa: S608
    f"VALUES ({', '.join(['%s'] * (len(EVENT_CONTENT_COLUMNS) - 1))}, %s::jsonb) "
    "RETURNING id, content_hash"
)


def _ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:  # a bad address must not fail the change it describes
        return None


def _plain_json(changes: dict) -> dict:
    # Exactly what PostgreSQL will hand back: dates, UUIDs and decimals as strings.
    return json.loads(json.dumps(mask_changes(changes), cls=DjangoJSONEncoder))


def record(
    action: str,
    *,
    target: Target = None,
    changes: dict | None = None,
    tenant=None,
) -> AuditEvent:
    """Write one event in the caller's transaction: it commits or rolls back with the change.

    ``action`` is a dotted verb (``staff.invited``). ``target`` is a model
    instance or a ``(type, id, display)`` tuple. ``changes`` maps field names to
    values or to ``{"before": ..., "after": ...}``; secret-looking keys are
    masked. ``tenant`` picks the tenant's chain; by default the tenant of the
    current schema (the platform's chain on the public schema).

    Costs exactly one INSERT. The event is linked into its chain after commit
    (``seal_chain``), so concurrent writers of one tenant never wait on each other.
    """
    ctx = current()
    if tenant is not None:
        chain, tenant_id = tenant.schema_name, tenant.pk
    else:
        chain, tenant_id = _current_chain()
    target_type, target_id, target_display = _describe(target)
    impersonator = ctx.impersonator
    fields = {  # in EVENT_CONTENT_COLUMNS order
        "chain": chain,
        "occurred_at": timezone.now(),
        "tenant_id": tenant_id,
        "actor_type": _text(ctx.actor.type, 16),
        "actor_id": _text(ctx.actor.id, 64),
        "actor_display": _text(ctx.actor.display, 255),
        "impersonator_id": _text(impersonator.id, 64) if impersonator else "",
        "impersonator_display": _text(impersonator.display, 255) if impersonator else "",
        "action": _text(action, 100),
        "target_type": target_type,
        "target_id": target_id,
        "target_display": target_display,
        "ip": _ip(ctx.ip),
        "user_agent": _text(ctx.user_agent, 512),
        "request_id": _text(ctx.request_id, 64),
        "changes": _plain_json(changes or {}),
    }
    # One plain INSERT (no ORM save machinery: this runs in every audited request);
    # the database's BEFORE INSERT trigger fills in the content hash.
    with connection.cursor() as cursor:
        params = list(fields.values())
        params[-1] = json.dumps(params[-1])
        cursor.execute(_INSERT_SQL, params)
        event_id, digest = cursor.fetchone()
    transaction.on_commit(lambda: request_seal(chain))
    return AuditEvent(id=event_id, content_hash=digest, **fields)


# --- sealing after commit ------------------------------------------------------

_last_seal: dict[str, float] = {}


def request_seal(chain: str) -> None:
    """Link newly committed events into ``chain`` soon, without slowing the request.

    At most once per ``AUDIT_SEAL_INTERVAL`` seconds per process and chain the
    sealing task is queued (run inline when Celery is eager or the broker is
    down); events committed in between are picked up by the next seal or by
    the periodic sweep.
    """
    now = time.monotonic()
    interval = getattr(settings, "AUDIT_SEAL_INTERVAL", 1.0)
    if now - _last_seal.get(chain, -interval) < interval:
        return
    _last_seal[chain] = now
    from .tasks import seal_chain_task

    try:
        if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            seal_chain(chain=chain)
        else:
            seal_chain_task.apply_async(args=(chain,), countdown=interval)
    except Exception:  # the change is committed; the periodic sweep seals later
        logger.exception("could not seal audit chain %r", chain)


# --- retention override ----------------------------------------------------------


def retention_days(*, chain: str) -> int:
    """How many days ``chain`` keeps its events (override, else ``AUDIT_RETENTION_DAYS``)."""
    override = AuditRetention.objects.filter(chain=chain).values_list("days", flat=True).first()
    return override or settings.AUDIT_RETENTION_DAYS


def retention_set(*, tenant, days: int, acting_user=None) -> AuditRetention:
    """Set how long ``tenant``'s events are kept. Vendor staff only: the minimum
    retention is a compliance promise, so a tenant cannot shorten it itself."""
    if acting_user is not None and not getattr(acting_user, "is_staff", False):
        raise PermissionDenied(_("Only vendor staff may change the audit retention."))
    minimum = getattr(settings, "AUDIT_RETENTION_MIN_DAYS", 30)
    if days < minimum:
        raise ValidationError(
            _("Audit events must be kept at least %(days)d days.") % {"days": minimum}
        )
    chain = tenant.schema_name
    with transaction.atomic():
        before = retention_days(chain=chain)
        obj, _created = AuditRetention.objects.update_or_create(
            chain=chain, defaults={"days": days}
        )
        record(
            "audit.retention_changed",
            target=tenant,
            tenant=tenant,
            changes={"retention_days": {"before": before, "after": days}},
        )
    return obj
