"""The hashes of the audit log: event content, chain links and signed checkpoints.

Pure functions over plain values, shared by the writer (``record``), the sealer
and the verifier, so that all three agree byte for byte.
"""

import hashlib
import hmac
import json
from datetime import datetime

GENESIS = "0" * 64
_SEP = "\x1f"  # record() strips control characters, so no field contains it


def canonical_json(value) -> str:
    """The one JSON spelling of ``value`` (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(
    chain: str,
    occurred_at: datetime,
    tenant_id: int | None,
    actor_type: str,
    actor_id: str,
    actor_display: str,
    impersonator_id: str,
    impersonator_display: str,
    action: str,
    target_type: str,
    target_id: str,
    target_display: str,
    ip: str | None,
    user_agent: str,
    request_id: str,
    changes: dict,
) -> str:
    """sha256 over every recorded field of an event, in the column order of AuditEvent."""
    text = _SEP.join(
        (
            chain,
            occurred_at.isoformat(),
            "" if tenant_id is None else str(tenant_id),
            actor_type,
            actor_id,
            actor_display,
            impersonator_id,
            impersonator_display,
            action,
            target_type,
            target_id,
            target_display,
            ip or "",
            user_agent,
            request_id,
            canonical_json(changes),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def link_hash(prev_hash: str, seq: int, chain: str, event_id: int, event_hash: str) -> str:
    return hashlib.sha256(
        f"{prev_hash}{_SEP}{seq}{_SEP}{chain}{_SEP}{event_id}{_SEP}{event_hash}".encode()
    ).hexdigest()


def checkpoint_signature(
    key: str, *, chain: str, kind: str, seq: int, hash: str, events_removed: int, created_at
) -> str:
    message = _SEP.join(
        ("v1", chain, kind, str(seq), hash, str(events_removed), created_at.isoformat())
    )
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_ok(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected, given)
