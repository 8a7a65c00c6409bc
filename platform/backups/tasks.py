"""Periodic work of the backups module (scheduled in ``CELERY_BEAT_SCHEDULE``).

Services are imported inside the tasks: a worker that never backs up does not load
the encryption library.
"""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def backup_all() -> int:
    """Queue one backup per workspace holding data (every BACKUP_INTERVAL_HOURS)."""
    from tenants.selectors import Tenant

    ids = list(
        Tenant.objects.filter(state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for tenant_id in ids:
        backup_workspace.delay(tenant_id)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def backup_workspace(tenant_id: int, reason: str = "schedule") -> str:
    """Back up one workspace, then apply its retention. A failure is logged (and
    catalogued as a failed backup, which the backup-age metric shows), not retried."""
    from core.principal import SYSTEM
    from tenants.selectors import Tenant

    from .services import backup_create, backups_prune

    tenant = Tenant.objects.get(pk=tenant_id)
    try:
        backup = backup_create(actor=SYSTEM, tenant=tenant, reason=reason)
    except Exception:
        logger.exception("scheduled backup of %s failed", tenant.slug)
        return ""
    backups_prune(actor=SYSTEM, tenant=tenant)
    return backup.backup_id


@shared_task(acks_late=True, ignore_result=True)
def restore_drill() -> bool:
    """The periodic restore drill; its outcome is ``selectors.last_drill_result()``."""
    from core.principal import SYSTEM

    from .services import restore_drill_run

    return restore_drill_run(actor=SYSTEM).ok
