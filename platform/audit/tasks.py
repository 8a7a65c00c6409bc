"""Periodic and follow-up work of the audit log (scheduled in ``CELERY_BEAT_SCHEDULE``)."""

import logging

from celery import shared_task
from django.core.management import call_command

from . import chain as chains

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
    summary = {"chains": 0, "events": 0, "bad": []}
    for chain in chains.known_chains():
        result = chains.verify_chain(chain=chain)
        summary["chains"] += 1
        summary["events"] += result.events
        if not result.ok:
            logger.error("audit chain %r failed verification: %s", chain, result.first_bad)
            summary["bad"].append(result.first_bad)
    return summary


@shared_task(acks_late=True, ignore_result=True)
def apply_retention() -> None:
    """Daily retention, through the one command allowed to delete events."""
    call_command("audit_retention")
