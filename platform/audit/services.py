"""The audit log's write API. ``record`` is the one way any module writes to the log.

Also here: the chain maintenance that commands and tasks call (``seal_chain``,
``checkpoint_chain``, ``verify_chain`` which seals before it walks,
``retention_apply``) and the per-tenant retention override (``retention_set``).
"""

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

from core.context import clean_ip, current
from core.principal import Principal, is_platform, write_service
from core.queue import task
from core.workspace import current as current_workspace

from . import registry
from .checkpoints import checkpoint_chain
from .hashing import EVENT_CONTENT_COLUMNS
from .masking import mask_changes
from .models import AuditEvent, AuditRetention
from .retention import RetentionResult, retention_apply_chain
from .sealing import known_chains, seal_chain
from .verification import ChainsReport, VerifyResult, verify_chain, verify_chains

__all__ = [
    "ChainsReport",
    "RetentionResult",
    "VerifyResult",
    "checkpoint_chain",
    "db_roles_separate",
    "export_recorded",
    "known_chains",
    "record",
    "record_in_both",
    "retention_apply",
    "retention_apply_chain",
    "retention_days",
    "retention_periods",
    "retention_set",
    "seal_chain",
    "verify_chain",
    "verify_chains",
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
    workspace = current_workspace()
    if workspace.is_public:
        return "", None
    return workspace.schema_name, workspace.tenant_id


_INSERT_SQL = (  # a constant: column names from EVENT_CONTENT_COLUMNS, values bound
    f'INSERT INTO "audit_auditevent" ({", ".join(EVENT_CONTENT_COLUMNS)}) '  # noqa: S608
    f"VALUES ({', '.join(['%s'] * (len(EVENT_CONTENT_COLUMNS) - 1))}, %s::jsonb) "
    "RETURNING id, content_hash"
)


_encoder = DjangoJSONEncoder()  # dates, UUIDs and decimals become strings


def _changes_text(changes: dict | None) -> str:
    """The masked changes as JSON text: serialised once, sent as the jsonb parameter."""
    return _encoder.encode(mask_changes(changes)) if changes else "{}"


def record(
    action: str,
    *,
    actor: Principal,
    target: Target = None,
    changes: dict | None = None,
    tenant=None,
) -> AuditEvent:
    """Write one event in the caller's transaction: it commits or rolls back with the change.

    ``action`` is a declared action (``audit.registry``; an undeclared one raises
    ``UndeclaredAction``). ``actor`` is the service's principal: the event's actor
    and impersonator come from it; ip, user agent and request id from
    ``core.context``. ``target`` is a model
    instance or a ``(type, id, display)`` tuple. ``changes`` maps field names to
    values or to ``{"before": ..., "after": ...}``; secret-looking keys are
    masked. ``tenant`` picks the tenant's chain; by default the tenant of the
    current schema (the platform's chain on the public schema).

    Costs exactly one INSERT. The event is linked into its chain after commit
    (``seal_chain``), so concurrent writers of one tenant never wait on each other.
    """
    registry.get(action)  # refuses an undeclared action
    ctx = current()
    if tenant is not None:
        chain, tenant_id = tenant.schema_name, tenant.pk
    else:
        chain, tenant_id = _current_chain()
    target_type, target_id, target_display = _describe(target)
    who = actor.audit_actor
    impersonator = actor.audit_impersonator
    fields = {  # in EVENT_CONTENT_COLUMNS order
        "chain": chain,
        "occurred_at": timezone.now(),
        "tenant_id": tenant_id,
        "actor_type": _text(who.type, 16),
        "actor_id": _text(who.id, 64),
        "actor_display": _text(who.display, 255),
        "impersonator_id": _text(impersonator.id, 64) if impersonator else "",
        "impersonator_display": _text(impersonator.display, 255) if impersonator else "",
        "action": _text(action, 100),
        "target_type": target_type,
        "target_id": target_id,
        "target_display": target_display,
        # Cleaned again: a task may bind any string, and a bad address must not
        # fail the change it describes.
        "ip": clean_ip(ctx.ip),
        "user_agent": _text(ctx.user_agent, 512),
        "request_id": _text(ctx.request_id, 64),
        "changes": _changes_text(changes),
    }
    # One plain INSERT (no ORM save machinery: this runs in every audited request);
    # the database's BEFORE INSERT trigger fills in the content hash.
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, list(fields.values()))
        event_id, digest = cursor.fetchone()
    if _claim_seal(chain):  # a dict lookup: most events of a busy chain skip the callback
        transaction.on_commit(lambda: _queue_seal(chain))
    # The returned event holds exactly what PostgreSQL stored (dates etc. as strings).
    fields["changes"] = json.loads(fields["changes"])
    return AuditEvent(id=event_id, content_hash=digest, **fields)


def record_in_both(
    action: str,
    *,
    actor: Principal,
    tenant,
    target: Target = None,
    changes: dict | None = None,
) -> AuditEvent:
    """Record ``action`` in the workspace's own chain and, when the caller is on the
    public schema (the console, a command), in the platform's chain too: the vendor's
    actions on a workspace are seen by both sides. Returns the workspace's event."""
    event = record(action, actor=actor, target=target, changes=changes, tenant=tenant)
    if _current_chain()[0] != tenant.schema_name:
        record(action, actor=actor, target=target, changes=changes)
    return event


def export_recorded(*, actor: Principal, fmt: str, filters: Any = None, tenant=None) -> AuditEvent:
    """Record ``audit.exported``: reading a log out is itself an event of that log.

    ``tenant`` is the tenant whose log was read (default: the current schema's);
    when vendor staff export a tenant's log from the console, the event lands
    in that tenant's chain with the vendor as actor. ``filters`` (an
    ``audit.selectors.EventFilter``) is kept as the event's changes.
    """
    criteria = {k: str(v) for k, v in vars(filters).items() if v} if filters else {}
    with transaction.atomic():
        return record(
            "audit.exported", actor=actor, tenant=tenant, changes={"format": fmt, **criteria}
        )


# --- sealing after commit ------------------------------------------------------

_last_seal: dict[str, float] = {}


def _claim_seal(chain: str) -> bool:
    """Take this process's seal slot of ``chain`` if none was taken in the last
    ``AUDIT_SEAL_INTERVAL`` seconds. Claimed when the event is written, so one
    transaction (or a burst of them) registers one after-commit callback, not one
    per event. If that transaction rolls back, the next seal after the interval,
    or the periodic sweep, links whatever committed in between."""
    now = time.monotonic()
    interval = getattr(settings, "AUDIT_SEAL_INTERVAL", 1.0)
    if now - _last_seal.get(chain, -interval) < interval:
        return False
    _last_seal[chain] = now
    return True


def _queue_seal(chain: str) -> None:
    try:
        if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
            seal_chain(chain=chain)
        else:
            interval = getattr(settings, "AUDIT_SEAL_INTERVAL", 1.0)
            # No publish retries: a request must not wait on a dead broker.
            task("audit.tasks.seal_chain_task").apply_async(
                args=(chain,), countdown=interval, retry=False
            )
    except Exception:  # the change is committed; the periodic sweep seals later
        logger.exception("could not seal audit chain %r", chain)


# --- database roles ----------------------------------------------------------------


@write_service
def db_roles_separate(
    *, actor: Principal, owner: str, app: str, retention: str | None = None
) -> list[str]:
    """Give the audit tables to ``owner``; ``app`` keeps SELECT and INSERT (``audit.roles``).

    Runs the statements and records ``audit.db_roles_changed`` in the platform's
    chain, in one transaction: changing who may bypass the log is itself logged.
    """
    from .roles import role_separation_sql

    statements = role_separation_sql(owner=owner, app=app, retention=retention)
    with transaction.atomic():
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        record(
            "audit.db_roles_changed",
            actor=actor,
            target=("audit.roles", owner, owner),
            changes={"owner": owner, "app": app, "retention": retention or ""},
        )
    return statements


# --- retention override ----------------------------------------------------------


def retention_periods(chains: list[str]) -> dict[str, int]:
    """How many days each of ``chains`` keeps its events (its override, else
    ``AUDIT_RETENTION_DAYS``), read in one query."""
    overrides = dict(AuditRetention.objects.filter(chain__in=chains).values_list("chain", "days"))
    return {chain: overrides.get(chain) or settings.AUDIT_RETENTION_DAYS for chain in chains}


def retention_days(*, chain: str) -> int:
    """How many days ``chain`` keeps its events (override, else ``AUDIT_RETENTION_DAYS``)."""
    return retention_periods([chain])[chain]


@write_service
def retention_apply(
    *, actor: Principal, chains: list[str], dry_run: bool = False
) -> list[tuple[int, RetentionResult]]:
    """Apply each chain's retention period (``retention_periods``): the vendor's or the
    system's job (the deletion itself is the chain's signed retention checkpoint).

    Returns ``(days, result)`` per chain; a chain that does not verify is
    refused (``result.refused``) and keeps every event.
    """
    if not is_platform(actor):
        raise PermissionDenied(_("Only vendor staff may apply the audit retention."))
    periods = retention_periods(chains)
    return [
        (periods[chain], retention_apply_chain(chain=chain, days=periods[chain], dry_run=dry_run))
        for chain in chains
    ]


@write_service
def retention_set(*, actor: Principal, tenant, days: int) -> AuditRetention:
    """Set how long ``tenant``'s events are kept. Vendor staff (or the system) only: the
    minimum retention is a compliance promise, so a tenant cannot shorten it itself."""
    if not is_platform(actor):
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
            actor=actor,
            target=tenant,
            tenant=tenant,
            changes={"retention_days": {"before": before, "after": days}},
        )
    return obj
