"""Account use cases: the owner of a new workspace, and the signed-in hand-off after signup."""

from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from core.principal import Principal, write_service

from .. import tokens

User = get_user_model()

HANDOFF_SALT = "atrium.accounts.handoff"
# Long enough for a redirect, short enough to be useless if it leaks from a log.
HANDOFF_MAX_AGE = 120


@write_service
def owner_create(*, actor: Principal, email: str, full_name: str, password_hash: str) -> User:
    """The first user of a workspace (runs in the tenant's schema). Not audited here: the
    caller (signup) records ``tenant.created`` with the new owner as its actor."""
    return User.objects.create(
        email=email.lower(), full_name=full_name, password=password_hash, role=User.Role.OWNER
    )


def _login_stamp(user) -> str:
    return user.last_login.isoformat() if user.last_login else ""


def handoff_token_make(*, schema_name: str, user_id: int) -> str:
    """A signed token that signs ``user`` in once on their workspace's host.

    Signup happens on the public host; cookies cannot cross to the workspace
    host, so the workspace redeems this token instead of asking for the
    password again. It expires in two minutes and dies at first use, because
    signing in changes ``last_login``, which the token embeds.
    """
    with schema_context(schema_name):
        user = User.objects.get(pk=user_id)
    return tokens.dumps(
        {"u": user.pk, "l": _login_stamp(user)}, salt=HANDOFF_SALT, schema_name=schema_name
    )


def handoff_token_redeem(*, token: str):
    """The user that ``token`` signs in on the current schema, or None."""
    data = tokens.loads(token, salt=HANDOFF_SALT, max_age=HANDOFF_MAX_AGE)
    if data is None:
        return None
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or _login_stamp(user) != data.get("l"):
        return None
    return user
