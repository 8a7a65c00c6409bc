"""The hashes of the audit log: event content, chain links and signed checkpoints.

The content hash of an event is computed by PostgreSQL (see ``content_digest_sql``);
link hashes and checkpoint signatures are computed in Python by the sealer and
the verifier, from the same functions, so that they agree byte for byte.
"""

import hashlib
import hmac

GENESIS = "0" * 64
_SEP = "\x1f"  # record() strips control characters, so no field contains it (chr(31))


EVENT_CONTENT_COLUMNS = (
    "chain", "occurred_at", "tenant_id", "actor_type", "actor_id", "actor_display",
    "impersonator_id", "impersonator_display", "action", "target_type", "target_id",
    "target_display", "ip", "user_agent", "request_id", "changes",
)  # fmt: skip


def content_digest_sql(row: str) -> str:
    """SQL for the sha256 (hex) of an event's content; ``row`` is ``NEW`` or a table alias.

    Computed by PostgreSQL: by a BEFORE INSERT trigger when the event is written
    (still one INSERT), and again by the verifier over the stored row. Only
    built-in pg_catalog functions are used, which the application role cannot
    replace. Every field is spelled canonically: UTC time to the microsecond,
    ``host(ip)`` and jsonb's own text form of the changes.
    """
    parts = []
    for column in EVENT_CONTENT_COLUMNS:
        ref = f"{row}.{column}"
        if column == "occurred_at":
            parts.append(f"""to_char({ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')""")
        elif column == "tenant_id":
            parts.append(f"coalesce({ref}::text, '')")
        elif column == "ip":
            parts.append(f"coalesce(host({ref}), '')")
        elif column == "changes":
            parts.append(f"{ref}::text")
        else:
            parts.append(ref)
    fields = ", ".join(parts)
    return f"encode(sha256(convert_to(concat_ws(chr(31), {fields}), 'UTF8')), 'hex')"


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
