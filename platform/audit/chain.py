"""Hash-chain maintenance: sealing, signed checkpoints, verification and retention.

``record`` only INSERTs an event with its own content hash. Sealing, in a short
transaction of its own serialised per chain by ``pg_advisory_xact_lock``, links
committed events into the chain in the order it finds them committed, by
appending ``AuditChainLink`` rows. Nothing here ever runs inside a request's
transaction, so writers of one tenant never wait on each other.
"""

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .hashing import (
    GENESIS,
    checkpoint_signature,
    content_digest_sql,
    link_hash,
    signature_ok,
)
from .models import AuditChainLink, AuditCheckpoint

logger = logging.getLogger(__name__)

_LOCK_CLASS = 0x41554454  # "AUDT": the advisory-lock namespace of audit chains
_SEAL_BATCH = 10_000
_RECOMPUTED = content_digest_sql("e")


def _lock_chain(chain: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_CLASS, chain])


def _grace() -> timedelta:
    return timedelta(seconds=getattr(settings, "AUDIT_SEAL_GRACE", 600))


def _head(chain: str) -> tuple[int, str, int, datetime | None]:
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
        restart = _latest_retention(chain)
        if restart is not None:
            return restart.seq, restart.hash, high, None
        return 0, GENESIS, high, None
    return row[0], row[1], high, row[2]


def _late_window(sealed_at: datetime | None) -> datetime:
    """Oldest ``occurred_at`` of an event that may still be linked below the chain's top.

    Anchored at the last seal, not at the clock: a transaction that was open
    when that seal ran (and lasts less than ``AUDIT_SEAL_GRACE``) wrote its
    event after ``sealed_at - grace``. So a late commit is linked by the next
    seal however long no seal runs, and verification and sealing agree on
    which unlinked events no seal will ever take (inserted out of order).
    """
    return (sealed_at or timezone.now()) - _grace()


def _latest_retention(chain: str) -> AuditCheckpoint | None:
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
    ``_late_window``). An unlinked event that is neither is never sealed:
    ``verify_chain`` reports it as inserted out of order.
    """
    total = 0
    while True:
        with transaction.atomic():
            _lock_chain(chain)
            seq, prev, high, sealed_at = _head(chain)
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    SELECT e.id, e.content_hash FROM audit_auditevent e
                    WHERE e.chain = %(chain)s
                      AND (e.id > %(high)s OR e.occurred_at >= %(since)s)
                      AND NOT EXISTS (SELECT 1 FROM audit_auditchainlink l WHERE l.event_id = e.id)
                    ORDER BY e.id LIMIT %(limit)s
                    """,
                    {"chain": chain, "high": high, "since": _late_window(sealed_at),
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


def _sign(checkpoint: AuditCheckpoint) -> str:
    return checkpoint_signature(
        settings.AUDIT_HMAC_KEY, chain=checkpoint.chain, kind=checkpoint.kind,
        seq=checkpoint.seq, hash=checkpoint.hash, events_removed=checkpoint.events_removed,
        created_at=checkpoint.created_at,
    )  # fmt: skip


def _write_checkpoint(*, chain: str, kind: str, seq: int, hash: str, removed: int = 0):
    checkpoint = AuditCheckpoint(
        chain=chain, kind=kind, seq=seq, hash=hash, events_removed=removed,
        created_at=timezone.now(),
    )  # fmt: skip
    checkpoint.signature = _sign(checkpoint)
    checkpoint.save(force_insert=True)
    return checkpoint


def checkpoint_chain(*, chain: str) -> AuditCheckpoint | None:
    """Sign the chain's current head, unless the last checkpoint already covers it."""
    seal_chain(chain=chain)
    with transaction.atomic():
        _lock_chain(chain)
        seq, head_hash, _high, _sealed_at = _head(chain)
        last = AuditCheckpoint.objects.filter(chain=chain).order_by("-seq", "-id").first()
        if seq == 0 or (last is not None and last.seq >= seq):
            return None
        return _write_checkpoint(
            chain=chain, kind=AuditCheckpoint.Kind.PERIODIC, seq=seq, hash=head_hash
        )


# --- verification ----------------------------------------------------------------


@dataclass
class VerifyResult:
    chain: str
    events: int = 0
    ok: bool = True
    first_bad: dict | None = None
    checkpoints: int = 0
    # Committed events not linked yet because no seal ran since they were written
    # (only with ``seal=False``, or commits racing the walk): not a failure.
    pending: int = 0
    seconds: float = 0.0

    def fail(self, reason: str, *, event_id: int | None = None, seq: int | None = None) -> None:
        if self.ok:
            self.ok = False
            self.first_bad = {"chain": self.chain, "event_id": event_id, "seq": seq,
                              "reason": reason}  # fmt: skip

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Expect:
    seq: int
    prev: str
    pins: dict[int, str] = field(default_factory=dict)  # seq -> hash from signed checkpoints


def _checkpoints_of(chain: str, result: VerifyResult) -> _Expect | None:
    """Check every checkpoint's signature; the latest retention checkpoint is the start."""
    start = _Expect(seq=1, prev=GENESIS)
    checkpoints = list(AuditCheckpoint.objects.filter(chain=chain).order_by("seq", "id"))
    result.checkpoints = len(checkpoints)
    for checkpoint in checkpoints:
        if not signature_ok(_sign(checkpoint), checkpoint.signature):
            result.fail(f"checkpoint {checkpoint.pk} has a bad signature", seq=checkpoint.seq)
            return None
        if checkpoint.kind == AuditCheckpoint.Kind.RETENTION and checkpoint.seq + 1 >= start.seq:
            start = _Expect(seq=checkpoint.seq + 1, prev=checkpoint.hash, pins=start.pins)
        else:
            start.pins[checkpoint.seq] = checkpoint.hash
    start.pins = {s: h for s, h in start.pins.items() if s >= start.seq}
    return start


def verify_chain(*, chain: str, seal: bool = True) -> VerifyResult:
    """Walk ``chain`` and report the first changed, removed or out-of-order event.

    Streams links joined to their events (COPY) in one REPEATABLE READ
    snapshot, recomputing every content and link hash.
    """
    started = timezone.now()
    if seal:
        seal_chain(chain=chain)
    result = VerifyResult(chain=chain)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # one snapshot for the whole walk
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        _check_links(chain, result)
        if result.ok:
            _find_orphans(chain, result)
    result.seconds = (timezone.now() - started).total_seconds()
    return result


def _check_links(chain: str, result: VerifyResult, through: int | None = None) -> None:
    """The checkpoints' signatures, then the links from the latest one on (to ``through``)."""
    expect = _checkpoints_of(chain, result)
    if expect is not None:
        _walk(chain, expect, result, through=through)


def _walk(chain: str, expect: _Expect, result: VerifyResult, through: int | None = None) -> None:
    """Check links ``expect.seq`` .. ``through`` (the end when None) and their events.

    PostgreSQL recomputes each event's content hash next to the stored one (in
    C, from built-in functions); the rows stream to Python through COPY, where
    the chain's order and link hashes are checked. Memory stays flat.
    """
    upper = "" if through is None else f"AND l.seq <= {int(through)}"
    query = f"""
        COPY (
            SELECT l.seq, l.prev_hash, l.hash, l.event_id, e.content_hash, e.chain, {_RECOMPUTED}
            FROM audit_auditchainlink l
            LEFT JOIN audit_auditevent e ON e.id = l.event_id
            WHERE l.chain = %s AND l.seq >= {int(expect.seq)} {upper}
            ORDER BY l.seq
        ) TO STDOUT
    """  # noqa: S608 - integers and a constant expression; the chain is a bound parameter
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(query, [chain]) as copy:
        rows = copy.rows()
        seq = _check_rows(chain, expect, result, rows)
        for _rest in rows:  # a COPY must be read to its end before the connection is usable
            pass
    if seq is None:
        return
    beyond = [s for s in expect.pins if s >= seq and (through is None or s <= through)]
    if beyond:
        result.fail(
            f"chain ends at seq {seq - 1} but a signed checkpoint covers seq {max(beyond)}",
            seq=seq,
        )


def _check_rows(chain: str, expect: _Expect, result: VerifyResult, rows) -> int | None:
    """The hot loop of verification (rows of text); the next expected seq, None on failure."""
    seq, prev, pins = expect.seq, expect.prev, expect.pins
    expected_seq = str(seq)
    for link_seq, link_prev, link_digest, event_id, stored, event_chain, recomputed in rows:
        if link_seq != expected_seq:
            kind = "removed" if int(link_seq) > seq else "duplicated"
            result.fail(f"chain link {seq} is {kind}", event_id=int(event_id), seq=seq)
            return None
        if link_prev != prev:
            result.fail(
                "chain link does not follow its predecessor", event_id=int(event_id), seq=seq
            )
            return None
        if stored is None:
            result.fail("event was removed", event_id=int(event_id), seq=seq)
            return None
        if event_chain != chain:
            result.fail("event belongs to another chain", event_id=int(event_id), seq=seq)
            return None
        if recomputed != stored:
            result.fail("event content was changed", event_id=int(event_id), seq=seq)
            return None
        digest = link_hash(prev, seq, chain, event_id, recomputed)
        if digest != link_digest:
            result.fail("chain link hash does not match", event_id=int(event_id), seq=seq)
            return None
        if pins and seq in pins and pins[seq] != digest:
            result.fail("chain differs from a signed checkpoint", event_id=int(event_id), seq=seq)
            return None
        result.events += 1
        prev = digest
        seq += 1
        expected_seq = str(seq)
    return seq


def _find_orphans(chain: str, result: VerifyResult) -> None:
    """Unlinked events that no seal will ever link, and the count of those still pending.

    An unlinked event below the chain's top that was written more than
    ``AUDIT_SEAL_GRACE`` before the last seal was passed over by a seal long
    after it was written: inserted out of order. Every other unlinked event is
    pending (no seal has run since it committed).
    """
    _seq, _hash, high, sealed_at = _head(chain)
    window = _late_window(sealed_at)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.id FROM audit_auditevent e
            WHERE e.chain = %s AND e.id < %s AND e.occurred_at < %s
              AND NOT EXISTS (SELECT 1 FROM audit_auditchainlink l WHERE l.event_id = e.id)
            ORDER BY e.id LIMIT 1
            """,
            [chain, high, window],
        )
        row = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*) FROM audit_auditevent e
            WHERE e.chain = %s AND (e.id > %s OR e.occurred_at >= %s)
              AND NOT EXISTS (SELECT 1 FROM audit_auditchainlink l WHERE l.event_id = e.id)
            """,
            [chain, high, window],
        )
        result.pending = cursor.fetchone()[0]
    if row is not None:
        result.fail("event is not in the chain (inserted out of order)", event_id=row[0])


# --- retention ---------------------------------------------------------------------


@dataclass
class ChainsReport:
    """``verify_chains``' answer: the totals, and each chain's result in order."""

    events: int = 0
    pending: int = 0
    results: list[VerifyResult] = field(default_factory=list)

    @property
    def first_bad(self) -> dict | None:
        return next((r.first_bad for r in self.results if not r.ok), None)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def verify_chains(chains: list[str], *, seal: bool = True) -> ChainsReport:
    """Verify each of ``chains`` (see ``verify_chain``)."""
    report = ChainsReport()
    for chain in chains:
        result = verify_chain(chain=chain, seal=seal)
        report.events += result.events
        report.pending += result.pending
        report.results.append(result)
    return report


def chain_of_workspace(slug: str) -> str | None:
    """The chain (schema name) of the workspace at ``slug``, or None."""
    from tenants.models import Tenant

    return Tenant.objects.filter(slug=slug).values_list("schema_name", flat=True).first()


@dataclass
class RetentionResult:
    chain: str
    cutoff: str
    removed: int = 0
    through_seq: int = 0
    checkpoint_id: int | None = None
    refused: str = ""


def apply_retention(
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
            raise ValueError("apply_retention needs days or cutoff")
        cutoff = timezone.now() - timedelta(days=days)
    result = RetentionResult(chain=chain, cutoff=cutoff.isoformat())
    seal_chain(chain=chain)
    with transaction.atomic():
        _lock_chain(chain)
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
        _check_links(chain, check, through=through)
        if not check.ok:
            result.refused = check.first_bad["reason"] if check.first_bad else "chain is bad"
            logger.error("audit retention refused on %r: %s", chain, check.first_bad)
            return result
        link = AuditChainLink.objects.get(chain=chain, seq=through)
        result.through_seq = through
        result.removed = through - low + 1
        if dry_run:
            return result
        checkpoint = _write_checkpoint(
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
