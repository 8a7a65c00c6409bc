"""Periodic and follow-up work of the audit log (scheduled in ``CELERY_BEAT_SCHEDULE``)."""

import logging

from celery import shared_task
from django.core.cache import caches
from django.utils import timezone

from core.principal import SYSTEM

from . import services as chains
from .selectors import LAST_VERIFICATION_KEY

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def seal_chain_task(chain: str) -> int:
    """Link the committed events of one chain (queued after commits, debounced)."""
    return chains.seal_chain(chain=chain)


@shared_task(acks_late=True, ignore_result=True)
def seal_all() -> int:
    """The sweep: link every committed event of every chain."""
    return sum(chains.seal_chain(chain=chain) for chain in chains.known_chains())


@shared_task(acks_late=True, ignore_result=True)
def checkpoint_all() -> int:
    """Sign the head of every chain that moved since its last checkpoint."""
    return sum(1 for chain in chains.known_chains() if chains.checkpoint_chain(chain=chain))


@shared_task(acks_late=True, ignore_result=True)
def verify_all() -> dict:
    """Verify every chain; a broken chain is logged at ERROR (alerting picks it up)."""
    report = chains.verify_chains(chains.known_chains())
    bad = [result.first_bad for result in report.results if not result.ok]
    for first_bad in bad:
        logger.error("audit chain %r failed verification: %s", first_bad["chain"], first_bad)
    # Read by the metrics (atrium_audit_chains_broken) through selectors.last_verification.
    caches["ops"].set(
        LAST_VERIFICATION_KEY,
        {"at": timezone.now().isoformat(), "chains": len(report.results), "bad": len(bad)},
        timeout=None,
    )
    return {"chains": len(report.results), "events": report.events, "bad": bad}


@shared_task(acks_late=True, ignore_result=True)
def retention_apply_all() -> int:
    """Daily retention. A chain that does not verify is refused and logged at ERROR by
    ``retention_apply_chain``, never raised: the other chains still get their retention."""
    return sum(
        result.removed
        for _days, result in chains.retention_apply(actor=SYSTEM, chains=chains.known_chains())
    )
