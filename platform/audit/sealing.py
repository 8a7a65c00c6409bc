"""Sealing: linking committed events into their chain, after commit.

``record`` only INSERTs an event with its own content hash. Sealing, in a short
transaction of its own serialised per chain by ``pg_advisory_xact_lock``, links
committed events into the chain in the order it finds them committed, by
appending ``AuditChainLink`` rows. Nothing here ever runs inside a request's
transaction, so writers of one tenant never wait on each other.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .hashing import GENESIS, link_hash
from .models import AuditCheckpoint

_LOCK_CLASS = 0x41554454  # "AUDT": the advisory-lock namespace of audit chains
_SEAL_BATCH = 10_000


def lock_chain(chain: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_CLASS, chain])


def _grace() -> timedelta:
    return timedelta(seconds=getattr(settings, "AUDIT_SEAL_GRACE", 600))


def head(chain: str) -> tuple[int, str, int, datetime | None]:
    """(seq, hash, highest sealed event id, when the last link was sealed) of the
    chain's head (or of its restart point after retention, sealed_at None)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, hash, sealed_at FROM audit_auditchainlink WHERE chain = %s "
            "ORDER BY seq DESC LIMIT 1",
            [chain],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(max(event_id), 0) FROM audit_auditchainlink WHERE chain = %s",
            [chain],
        )
        high = cursor.fetchone()[0]
    if row is None:
        restart = latest_retention(chain)
        if restart is not None:
            return restart.seq, restart.hash, high, None
        return 0, GENESIS, high, None
    return row[0], row[1], high, row[2]


def late_window(sealed_at: datetime | None) -> datetime:
    """Oldest ``occurred_at`` of an event that may still be linked below the chain's top.

    Anchored at the last seal, not at the clock: a transaction that was open
    when that seal ran (and lasts less than ``AUDIT_SEAL_GRACE``) wrote its
    event after ``sealed_at - grace``. So a late commit is linked by the next
    seal however long no seal runs, and verification and sealing agree on
    which unlinked events no seal will ever take (inserted out of order).
    """
    return (sealed_at or timezone.now()) - _grace()


def latest_retention(chain: str) -> AuditCheckpoint | None:
    return (
        AuditCheckpoint.objects.filter(chain=chain, kind=AuditCheckpoint.Kind.RETENTION)
        .order_by("-seq", "-id")
        .first()
    )


def seal_chain(*, chain: str) -> int:
    """Link every committed, unlinked event of ``chain``; returns how many were linked.

    Candidates are events above the highest linked id (new ones, however old)
    and events written less than ``AUDIT_SEAL_GRACE`` before the previous seal
    (transactions that committed after a later one was already sealed; see
    ``late_window``). An unlinked event that is neither is never sealed:
    ``verify_chain`` reports it as inserted out of order.
    """
    total = 0
    while True:
        with transaction.atomic():
            lock_chain(chain)
            seq, prev, high, sealed_at = head(chain)
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    SELECT e.id, e.content_hash FROM audit_auditevent e
                    WHERE e.chain = %(chain)s
                      AND (e.id > %(high)s OR e.occurred_at >= %(since)s)
                      AND NOT EXISTS (SELECT 1 FROM audit_auditchainlink l WHERE l.event_id = e.id)
                    ORDER BY e.id LIMIT %(limit)s
                    """,
                    {"chain": chain, "high": high, "since": late_window(sealed_at),
                     "limit": _SEAL_BATCH},
                )  # fmt: skip
                rows = cursor.fetchall()
                if not rows:
                    return total
                ids, seqs, prevs, hashes = [], [], [], []
                for event_id, event_hash in rows:
                    seq += 1
                    digest = link_hash(prev, seq, chain, event_id, event_hash)
                    ids.append(event_id)
                    seqs.append(seq)
                    prevs.append(prev)
                    hashes.append(digest)
                    prev = digest
                cursor.execute(
                    """
                    INSERT INTO audit_auditchainlink
                        (event_id, chain, seq, prev_hash, hash, sealed_at)
                    SELECT i, %s, s, p, h, now()
                    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS t(i, s, p, h)
                    """,
                    [chain, ids, seqs, prevs, hashes],
                )
            total += len(rows)
        if len(rows) < _SEAL_BATCH:
            return total


def known_chains() -> list[str]:
    """Every chain that has events, links or checkpoints ("" is the platform's)."""
    sql = """
        WITH RECURSIVE c(chain) AS (
            (SELECT chain FROM {t} ORDER BY chain LIMIT 1)
            UNION ALL
            SELECT (SELECT chain FROM {t} WHERE chain > c.chain ORDER BY chain LIMIT 1)
            FROM c WHERE c.chain IS NOT NULL
        )
        SELECT chain FROM c WHERE chain IS NOT NULL
    """  # a loose index scan: one probe per chain, not a scan of the table
    chains: set[str] = set()
    with connection.cursor() as cursor:
        for table in ("audit_auditevent", "audit_auditchainlink"):
            cursor.execute(sql.format(t=table))
            chains.update(row[0] for row in cursor.fetchall())
    chains.update(AuditCheckpoint.objects.values_list("chain", flat=True).distinct())
    return sorted(chains)
