"""Who may do what in a workspace. Services call these (and raise ``PermissionDenied``);
views use ``role_required`` so that a forbidden page is refused before any work.

- owner: everything, including owners and billing.
- admin: manages staff (not owners) and workspace policies.
- member: works in the workspace.
- read-only: sees, changes nothing in shared data (still manages their own account).
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .models import User

Role = User.Role

STAFF_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_workspace_admin(user) -> bool:
    """An active owner or admin: reads the audit log, restores documents, is alerted."""
    return _active(user) and user.role in STAFF_MANAGERS


def can_manage_staff(user) -> bool:
    """Invite, change roles, deactivate and unlock staff; set workspace policies."""
    return is_workspace_admin(user)


def can_manage_owners(user) -> bool:
    """Make, demote or deactivate owners; manage billing."""
    return _active(user) and user.role == Role.OWNER


def can_write(user) -> bool:
    """Change shared workspace data (documents...): everyone but read-only users."""
    return _active(user) and user.role != Role.READONLY


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


def role_required(
    check: Callable[[object], bool],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: anonymous users go to sign-in, others need ``check(user)``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
