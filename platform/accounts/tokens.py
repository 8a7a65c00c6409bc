"""Signed tokens carried by links (invitations, email changes, the signup hand-off).

Each token is signed with the site's key and bound to one workspace's schema
(``dumps``/``loads``), so a link forged, altered or taken to another workspace is
refused before any query. Invitation tokens carry a random secret of which only a
hash is stored.
"""

import hashlib
import secrets

from django.core import signing

from core.workspace import current as current_workspace

INVITATION_SALT = "atrium.accounts.invitation"
EMAIL_CHANGE_SALT = "atrium.accounts.email-change"


def dumps(payload: dict, *, salt: str, schema_name: str | None = None) -> str:
    """``payload`` signed for ``schema_name`` (the current schema by default)."""
    return signing.dumps(
        {**payload, "s": schema_name or current_workspace().schema_name}, salt=salt
    )


def loads(token: str, *, salt: str, max_age: int | None = None) -> dict | None:
    """The payload of a token signed for the current schema; None when it is forged,
    altered, expired or for another workspace."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a subclass
        return None
    if not isinstance(data, dict) or data.get("s") != current_workspace().schema_name:
        return None
    return data


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_invitation_token() -> tuple[str, str]:
    """A new (token, hash to store) pair for the current schema."""
    secret = secrets.token_urlsafe(32)
    return dumps({"k": secret}, salt=INVITATION_SALT), secret_hash(secret)


def invitation_hash_from_token(token: str) -> str | None:
    """The stored hash that ``token`` points at, or None when it is forged or foreign."""
    data = loads(token, salt=INVITATION_SALT)
    secret = data.get("k") if data else None
    return secret_hash(secret) if isinstance(secret, str) else None


def make_email_change_token(*, user_id: int, old_email: str, new_email: str) -> str:
    # Embedding the old address makes the link single-use: once the change is
    # made, the user's address no longer matches.
    return dumps({"u": user_id, "o": old_email, "n": new_email}, salt=EMAIL_CHANGE_SALT)


def read_email_change_token(token: str, *, max_age: int) -> dict | None:
    return loads(token, salt=EMAIL_CHANGE_SALT, max_age=max_age)
