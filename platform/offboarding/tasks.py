"""Celery tasks of offboarding: build an export; purge what is due (periodic)."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def build_export(export_id: str) -> str:
    """Write one export's archive (``services.export_build``); a failure is recorded on
    the export (and audited), not retried: whoever asked can ask again."""
    from core.principal import SYSTEM

    from .services import export_build

    try:
        return export_build(actor=SYSTEM, export_id=export_id).status
    except Exception:
        logger.exception("export %s failed", export_id)
        return "failed"


@shared_task(acks_late=True, ignore_result=True)
def purge_due() -> dict:
    """Purge workspaces past their grace period, finish interrupted purges, release
    addresses out of quarantine (every ``OFFBOARDING_PURGE_INTERVAL`` seconds)."""
    from core.principal import SYSTEM

    from .services import deletions_purge_due

    return deletions_purge_due(actor=SYSTEM)


@shared_task(acks_late=True, ignore_result=True)
def expire_exports() -> int:
    """Delete export archives past ``OFFBOARDING_EXPORT_KEEP_DAYS`` (hourly)."""
    from core.principal import SYSTEM

    from .services import exports_expire

    return exports_expire(actor=SYSTEM)


@shared_task(acks_late=True, ignore_result=True)
def requeue_stale_exports() -> int:
    """Queue again exports whose message or worker was lost (every 5 minutes)."""
    from core.principal import SYSTEM

    from .services import exports_requeue_stale

    return exports_requeue_stale(actor=SYSTEM)
