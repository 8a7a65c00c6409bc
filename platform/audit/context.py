"""Who is acting, and from where: set once per request (middleware) or task (Celery)."""

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Actor:
    type: str  # "user" (tenant user), "vendor" (vendor staff), "api" (API client), "system"
    id: str = ""
    display: str = ""


SYSTEM = Actor(type="system", id="", display="system")


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


def new_request_id() -> str:
    return uuid.uuid4().hex


def actor_for_user(user) -> Actor:
    """The actor for a signed-in user: vendor staff on the public schema, else tenant user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return SYSTEM
    from django.db import connection

    kind = "vendor" if connection.schema_name == "public" else "user"
    return Actor(type=kind, id=str(user.pk), display=user.email)
