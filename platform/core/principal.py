"""Who acts: the principal that every service takes as ``*, actor``.

A principal answers four questions, and services ask nothing else of it:

- ``acting_user``: the workspace user whose role the permission checks apply
  (``None`` for the system, a visitor, vendor staff on the public site, or an
  app acting alone);
- ``read_only``: whether it may change anything at all (``require_writable``);
- ``audit_actor`` / ``audit_impersonator``: how the audit log names it. The
  actor is on whose behalf the change was made; the impersonator, when there
  is one, is who really made it (the vendor in a support session, the app
  acting for a user).

A workspace ``User`` (``accounts.models.User``) is a principal itself. The
others are here: ``SYSTEM`` (tasks, commands), ``ANONYMOUS`` (a visitor:
signup, password reset), ``SupportSession`` (a vendor working as a workspace
user, read-only or read-write) and ``AppPrincipal`` (an OAuth2 app, for a user
or alone).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, runtime_checkable

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from .access import require_workspace_writable
from .errors import ReadOnlyError


@dataclass(frozen=True)
class Actor:
    """The audit log's picture of a principal: a type, an id and a display string."""

    type: str  # "user" (workspace user), "vendor", "api", "system", "anonymous"
    id: str = ""
    display: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id, "display": self.display}

    @classmethod
    def from_dict(cls, data: dict) -> "Actor":
        return cls(
            type=str(data.get("type", "system")),
            id=str(data.get("id", "")),
            display=str(data.get("display", "")),
        )


@runtime_checkable
class Principal(Protocol):
    """The acting principal. See the module docstring."""

    @property
    def acting_user(self) -> Any: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def audit_actor(self) -> Actor: ...

    @property
    def audit_impersonator(self) -> Actor | None: ...


@dataclass(frozen=True)
class _Fixed:
    """A principal that is no user: the system or a visitor."""

    actor: Actor
    acting_user: None = None
    read_only: bool = False
    audit_impersonator: None = None

    @property
    def audit_actor(self) -> Actor:
        return self.actor


SYSTEM: Principal = _Fixed(Actor(type="system", display="system"))


def system(display: str) -> Principal:
    """The system under a name of its own (``manage.py backup``): still the system."""
    return _Fixed(Actor(type="system", display=display))


ANONYMOUS: Principal = _Fixed(Actor(type="anonymous", display="anonymous"))


def user_actor(user: Any, type: str = "user") -> Actor:
    """The audit actor for a user row (workspace user or vendor staff)."""
    return Actor(type=type, id=str(user.pk), display=user.email)


SupportMode = Literal["read_only", "read_write"]


@dataclass(frozen=True)
class SupportSession:
    """A vendor staff member working in a workspace as one of its users.

    Permissions are the user's; ``mode`` makes it read-only or read-write. The
    audit log shows the user as actor and the vendor as impersonator.
    """

    user: Any
    vendor: Actor
    mode: SupportMode = "read_only"
    session_id: str = ""

    @property
    def acting_user(self) -> Any:
        return self.user

    @property
    def read_only(self) -> bool:
        return self.mode != "read_write"

    @property
    def audit_actor(self) -> Actor:
        return user_actor(self.user)

    @property
    def audit_impersonator(self) -> Actor:
        return self.vendor


@dataclass(frozen=True)
class AppPrincipal:
    """An OAuth2 app: for a user (authorization code) or alone (client credentials).

    For a user, the user is the actor and the app the impersonator (who really
    made the call); alone, the app is the actor.
    """

    app_id: str
    name: str
    user: Any = None
    scopes: frozenset[str] = frozenset()
    read_only: bool = False
    # Client credentials: the app acts alone (``user`` is None) with the permissions of
    # this user row: its creator's, with the role capped at what the creator gave the
    # app (never more than the creator's own). The audit log still names the app.
    role_of: Any = None

    @property
    def acting_user(self) -> Any:
        return self.user if self.user is not None else self.role_of

    def has_scope(self, scope: str) -> bool:
        """Whether the token this principal came from was granted ``scope``."""
        return scope in self.scopes

    @property
    def _app_actor(self) -> Actor:
        return Actor(type="api", id=self.app_id, display=self.name)

    @property
    def audit_actor(self) -> Actor:
        return user_actor(self.user) if self.user is not None else self._app_actor

    @property
    def audit_impersonator(self) -> Actor | None:
        return self._app_actor if self.user is not None else None


WORKSPACE_ADMIN_ROLES = frozenset({"owner", "admin"})


def is_workspace_admin(actor: Any) -> bool:
    """Whether ``actor`` acts as an active owner or admin of the current workspace."""
    user = getattr(actor, "acting_user", None)
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.role in WORKSPACE_ADMIN_ROLES
    )


PLATFORM_ACTOR_TYPES = frozenset({"system", "vendor"})


def is_platform(actor: Any) -> bool:
    """The vendor's side: the system (tasks, commands) or vendor staff on the public site.
    Workspace lifecycle and compliance settings are theirs, never a workspace's."""
    return getattr(getattr(actor, "audit_actor", None), "type", "") in PLATFORM_ACTOR_TYPES


def is_vendor_staff(actor: Any) -> bool:
    """Whether ``actor`` is a vendor staff member on the public site (not in a workspace)."""
    return getattr(getattr(actor, "audit_actor", None), "type", "") == "vendor"


def require_scope(actor: Any, scope: str) -> None:
    """Raise ``PermissionDenied`` when ``actor`` is an app whose token lacks ``scope``.

    Scopes only narrow: a user (or any principal that is no app) passes, and an app
    that has the scope still needs its user's role to allow the action (the service
    checks that)."""
    has_scope = getattr(actor, "has_scope", None)
    if has_scope is not None and not has_scope(scope):
        raise PermissionDenied(_("This token lacks the scope %(scope)s.") % {"scope": scope})


def require_writable(actor: Principal) -> None:
    """Raise ``ReadOnlyError`` unless ``actor`` may change things: every write service's
    first check, before any permission or validation."""
    if actor.read_only:
        raise ReadOnlyError


P = ParamSpec("P")
R = TypeVar("R")


def write_service(
    func: Callable[P, R] | None = None, *, read_only_workspace_ok: bool = False
) -> Any:
    """Mark a service as a write: it refuses a read-only ``actor`` before doing anything,
    and a read-only workspace (``core.access``) unless ``read_only_workspace_ok`` (the
    few writes a read-only workspace still needs: signing in, fixing the payment).

    Used bare (``@write_service``) or with the option. The marks
    (``__write_service__``, ``__read_only_workspace_ok__``) let a test prove that every
    write service of every package's public face refuses both.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            actor = kwargs["actor"]
            require_writable(actor)  # type: ignore[arg-type]
            if not read_only_workspace_ok:
                require_workspace_writable(actor)
            return func(*args, **kwargs)

        wrapper.__write_service__ = True  # type: ignore[attr-defined]
        wrapper.__read_only_workspace_ok__ = read_only_workspace_ok  # type: ignore[attr-defined]
        return wrapper

    return decorate(func) if func is not None else decorate


# --- vendor roles ------------------------------------------------------------------

VENDOR_ROLES = ("viewer", "support", "billing", "admin")  # each includes the ones before


def vendor_role(actor: Any) -> str:
    """The vendor role of ``actor`` ("" unless vendor staff on the public site)."""
    if not is_vendor_staff(actor):
        return ""
    user = getattr(actor, "vendor_user", None) or actor
    return getattr(user, "vendor_role", "") or ""


def require_vendor_role(actor: Any, role: str) -> None:
    """Raise ``PermissionDenied`` unless ``actor`` is vendor staff with at least ``role``
    (``VENDOR_ROLES`` order). The system (commands, tasks) passes."""
    if getattr(getattr(actor, "audit_actor", None), "type", "") == "system":
        return
    held = vendor_role(actor)
    if not held or VENDOR_ROLES.index(held) < VENDOR_ROLES.index(role):
        raise PermissionDenied(
            _("This needs the vendor role “%(role)s” or higher.") % {"role": role}
        )
