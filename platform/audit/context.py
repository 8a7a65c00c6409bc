"""Who is acting, and from where: bound once per request (middleware) or task (Celery).

Services never pass this around; ``audit.services.record`` reads it. Code that
acts outside a request binds it itself::

    with audit.context.bind(actor=audit.context.SYSTEM):
        ...
"""

import contextvars
import ipaddress
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Actor:
    type: str  # "user" (tenant user), "vendor" (vendor staff), "api", "system", "anonymous"
    id: str = ""
    display: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id, "display": self.display}

    @classmethod
    def for_user(cls, user, type: str = "user") -> "Actor":
        """The actor for ``user`` (a tenant user unless ``type`` says otherwise)."""
        return cls(type=type, id=str(user.pk), display=user.email)

    @classmethod
    def from_dict(cls, data: dict) -> "Actor":
        return cls(
            type=str(data.get("type", "system")),
            id=str(data.get("id", "")),
            display=str(data.get("display", "")),
        )


SYSTEM = Actor(type="system", id="", display="system")
ANONYMOUS = Actor(type="anonymous", id="", display="anonymous")


@dataclass(frozen=True)
class AuditContext:
    actor: Actor = SYSTEM
    impersonator: Actor | None = None
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "audit_context",
    default=AuditContext(),  # noqa: B039 - frozen, so safe to share
)


def current() -> AuditContext:
    """The context of the running request or task (system, no request, outside both)."""
    return _current.get()


@contextmanager
def bind(ctx: AuditContext | None = None, **changes) -> Iterator[AuditContext]:
    """Use ``ctx`` (or the current context with ``changes``) inside the block."""
    new = replace(ctx or current(), **changes)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)


def activate(ctx: AuditContext) -> contextvars.Token:
    """Bind ``ctx`` until ``deactivate(token)``; for hooks that cannot use a ``with`` block."""
    return _current.set(ctx)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """A caller-supplied request id if it is a plain token, else a fresh one."""
    if value and _REQUEST_ID.match(value):
        return value
    return new_request_id()


def clean_ip(value: str | None) -> str | None:
    """``value`` as a normalised ip address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def actor_for_user(user) -> Actor:
    """The actor for a user: vendor staff on the public schema, else tenant user.

    ``None`` means no request at all (system); an anonymous user is a visitor.
    """
    if user is None:
        return SYSTEM
    if not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    from django.db import connection

    return Actor.for_user(user, "vendor" if connection.schema_name == "public" else "user")
