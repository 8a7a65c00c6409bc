"""Who may do what in a workspace. Services call these (and raise ``PermissionDenied``);
views use ``role_required`` so that a forbidden page is refused before any work.

Every predicate takes a principal (``core.principal``): a ``User`` is one, a support
session or an app acts with its user's role.

- owner: everything, including owners and billing.
- admin: manages staff (not owners) and workspace policies.
- member: works in the workspace.
- read-only: sees, changes nothing in shared data (still manages their own account).
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from core.principal import WORKSPACE_ADMIN_ROLES, Principal, is_vendor_staff
from core.principal import is_workspace_admin as _is_admin

from .models import User

Role = User.Role

STAFF_MANAGERS = WORKSPACE_ADMIN_ROLES
assert {Role.OWNER, Role.ADMIN} == set(STAFF_MANAGERS)


def _user(actor) -> User | None:
    user = getattr(actor, "acting_user", None)
    return user if user is not None and user.is_authenticated and user.is_active else None


def _active(actor) -> bool:
    return _user(actor) is not None


def acting_user(actor: Principal) -> User:
    """The workspace user ``actor`` acts as; ``PermissionDenied`` when it is none."""
    user = _user(actor)
    if user is None:
        raise PermissionDenied
    return user


def account_holder(actor: Principal) -> User:
    """The person whose own account (sessions, second factor) ``actor`` manages: the
    workspace user acting as themself, or a vendor staff member signed in to the console
    on the public site (who has no role in a workspace, so no ``acting_user``)."""
    if is_vendor_staff(actor):
        user = getattr(actor, "vendor_user", None) or actor
        if isinstance(user, User) and user.is_active:
            return user
        raise PermissionDenied
    return acting_user(actor)


def credential_owner(actor: Principal) -> User:
    """The user whose own credentials (password, email, second factor) ``actor`` may change:
    only the person, never someone acting for them (support session, app)."""
    user = account_holder(actor)
    if actor.audit_impersonator is not None:
        raise PermissionDenied(_("Only the account's owner can change its credentials."))
    return user


def is_workspace_admin(actor) -> bool:
    """An active owner or admin: reads the audit log, restores documents, is alerted."""
    return _is_admin(actor)


def can_manage_staff(user) -> bool:
    """Invite, change roles, deactivate and unlock staff; set workspace policies."""
    return is_workspace_admin(user)


def can_manage_owners(actor) -> bool:
    """Make, demote or deactivate owners; manage billing."""
    user = _user(actor)
    return user is not None and user.role == Role.OWNER


def can_write(actor) -> bool:
    """Change shared workspace data (documents...): everyone but read-only users."""
    user = _user(actor)
    return user is not None and user.role != Role.READONLY and not actor.read_only


def can_act_on(actor, target: User) -> bool:
    """Whether ``actor`` may change ``target``'s role or status at all."""
    if not can_manage_staff(actor):
        return False
    return target.role != Role.OWNER or can_manage_owners(actor)


def can_grant(actor, role: str) -> bool:
    """Whether ``actor`` may give someone ``role`` (by invitation or role change)."""
    if not can_manage_staff(actor):
        return False
    return role != Role.OWNER or can_manage_owners(actor)


def require(allowed: bool) -> None:
    """Raise ``PermissionDenied`` unless ``allowed``: the services' one-line guard."""
    if not allowed:
        raise PermissionDenied
