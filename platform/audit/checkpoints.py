"""Signed checkpoints: an HMAC-signed pin of a chain's head (periodic) or of where it
restarts after retention."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .hashing import checkpoint_signature
from .models import AuditCheckpoint
from .sealing import head, lock_chain, seal_chain


def sign(checkpoint: AuditCheckpoint) -> str:
    return checkpoint_signature(
        settings.AUDIT_HMAC_KEY, chain=checkpoint.chain, kind=checkpoint.kind,
        seq=checkpoint.seq, hash=checkpoint.hash, events_removed=checkpoint.events_removed,
        created_at=checkpoint.created_at,
    )  # fmt: skip


def write_checkpoint(*, chain: str, kind: str, seq: int, hash: str, removed: int = 0):
    checkpoint = AuditCheckpoint(
        chain=chain, kind=kind, seq=seq, hash=hash, events_removed=removed,
        created_at=timezone.now(),
    )  # fmt: skip
    checkpoint.signature = sign(checkpoint)
    checkpoint.save(force_insert=True)
    return checkpoint


def checkpoint_chain(*, chain: str) -> AuditCheckpoint | None:
    """Sign the chain's current head, unless the last checkpoint already covers it."""
    seal_chain(chain=chain)
    with transaction.atomic():
        lock_chain(chain)
        seq, head_hash, _high, _sealed_at = head(chain)
        last = AuditCheckpoint.objects.filter(chain=chain).order_by("-seq", "-id").first()
        if seq == 0 or (last is not None and last.seq >= seq):
            return None
        return write_checkpoint(
            chain=chain, kind=AuditCheckpoint.Kind.PERIODIC, seq=seq, hash=head_hash
        )
