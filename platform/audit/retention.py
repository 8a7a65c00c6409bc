"""Retention: the one path that removes old events, leaving a signed checkpoint."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from .checkpoints import write_checkpoint
from .models import AuditChainLink, AuditCheckpoint
from .sealing import lock_chain, seal_chain
from .verification import VerifyResult, check_links

logger = logging.getLogger(__name__)


@dataclass
class RetentionResult:
    chain: str
    cutoff: str
    removed: int = 0
    through_seq: int = 0
    checkpoint_id: int | None = None
    refused: str = ""


def retention_apply_chain(
    *, chain: str, days: int | None = None, cutoff: datetime | None = None, dry_run: bool = False
) -> RetentionResult:
    """Remove ``chain``'s events older than ``days``: the only DELETE the trigger allows.

    In one transaction, holding the chain's lock: verify the part to remove,
    write an HMAC-signed checkpoint of the last removed link, ``SET LOCAL`` the
    flag the trigger checks, then delete those links and events. Verification
    restarts from the checkpoint, so the shortened chain still verifies.
    """
    if cutoff is None:
        if days is None:
            raise ValueError("retention_apply_chain needs days or cutoff")
        cutoff = timezone.now() - timedelta(days=days)
    result = RetentionResult(chain=chain, cutoff=cutoff.isoformat())
    seal_chain(chain=chain)
    with transaction.atomic():
        lock_chain(chain)
        with connection.cursor() as cursor:
            # The longest prefix of the chain whose events are all older than the cutoff.
            cursor.execute(
                """
                SELECT min(l.seq) FROM audit_auditchainlink l
                JOIN audit_auditevent e ON e.id = l.event_id
                WHERE l.chain = %s AND e.occurred_at >= %s
                """,
                [chain, cutoff],
            )
            first_kept = cursor.fetchone()[0]
            cursor.execute(
                "SELECT min(seq), max(seq) FROM audit_auditchainlink WHERE chain = %s", [chain]
            )
            low, high = cursor.fetchone()
        if low is None:
            return result
        through = (first_kept - 1) if first_kept is not None else high
        if through < low:
            return result
        check = VerifyResult(chain=chain)
        check_links(chain, check, through=through)
        if not check.ok:
            result.refused = check.first_bad["reason"] if check.first_bad else "chain is bad"
            logger.error("audit retention refused on %r: %s", chain, check.first_bad)
            return result
        link = AuditChainLink.objects.get(chain=chain, seq=through)
        result.through_seq = through
        result.removed = through - low + 1
        if dry_run:
            return result
        checkpoint = write_checkpoint(
            chain=chain, kind=AuditCheckpoint.Kind.RETENTION, seq=through, hash=link.hash,
            removed=result.removed,
        )  # fmt: skip
        result.checkpoint_id = checkpoint.pk
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL atrium.audit_retention = 'on'")
            cursor.execute(
                """
                WITH gone AS (
                    DELETE FROM audit_auditchainlink WHERE chain = %s AND seq <= %s
                    RETURNING event_id
                )
                DELETE FROM audit_auditevent WHERE id IN (SELECT event_id FROM gone)
                """,
                [chain, through],
            )
            cursor.execute("SET LOCAL atrium.audit_retention = 'off'")
    return result
