"""Verification: walk a chain and report the first changed, removed or out-of-order event."""

from dataclasses import asdict, dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from .checkpoints import sign
from .hashing import GENESIS, content_digest_sql, link_hash, signature_ok
from .models import AuditCheckpoint
from .sealing import head, late_window, seal_chain

_RECOMPUTED = content_digest_sql("e")


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
        if not signature_ok(sign(checkpoint), checkpoint.signature):
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
        check_links(chain, result)
        if result.ok:
            _find_orphans(chain, result)
    result.seconds = (timezone.now() - started).total_seconds()
    return result


def check_links(chain: str, result: VerifyResult, through: int | None = None) -> None:
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
    _seq, _hash, high, sealed_at = head(chain)
    window = late_window(sealed_at)
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
