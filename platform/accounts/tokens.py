"""Signed tokens carried by emailed links (invitations, email changes).

Each token is signed with the site's key and bound to one workspace's schema, so
a link forged, altered or taken to another workspace is refused before any query.
Invitation tokens carry a random secret of which only a hash is stored.
"""

import hashlib
import secrets

from django.core import signing
from django.db import connection

INVITATION_SALT = "atrium.accounts.invitation"
EMAIL_CHANGE_SALT = "atrium.accounts.email-change"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_invitation_token() -> tuple[str, str]:
    """A new (token, hash to store) pair for the current schema."""
    secret = secrets.token_urlsafe(32)
    token = signing.dumps({"s": connection.schema_name, "k": secret}, salt=INVITATION_SALT)
    return token, secret_hash(secret)


def invitation_hash_from_token(token: str) -> str | None:
    """The stored hash that ``token`` points at, or None when it is forged or foreign."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != connection.schema_name:
        return None
    secret = data.get("k")
    return secret_hash(secret) if isinstance(secret, str) else None


def make_email_change_token(*, user_id: int, old_email: str, new_email: str) -> str:
    # Embedding the old address makes the link single-use: once the change is
    # made, the user's address no longer matches.
    return signing.dumps(
        {"s": connection.schema_name, "u": user_id, "o": old_email, "n": new_email},
        salt=EMAIL_CHANGE_SALT,
    )


def read_email_change_token(token: str, *, max_age: int) -> dict | None:
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a subclass
        return None
    if not isinstance(data, dict) or data.get("s") != connection.schema_name:
        return None
    return data
