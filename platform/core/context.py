"""Where a call came from: client address, user agent and request id.

Bound once per request (``core.middleware.RequestContextMiddleware``) and per
Celery task (``core.celery_context``); the audit log reads it for every event.
Who acts is *not* here: services take it explicitly as ``actor``.
"""

import contextvars
import ipaddress
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "request_context",
    default=RequestContext(),  # noqa: B039 - frozen, so safe to share
)


def current() -> RequestContext:
    """The context of the running request or task (empty outside both)."""
    return _current.get()


@contextmanager
def bind(ctx: RequestContext | None = None, **changes) -> Iterator[RequestContext]:
    """Use ``ctx`` (or the current context with ``changes``) inside the block."""
    new = replace(ctx or current(), **changes)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)


def activate(ctx: RequestContext) -> contextvars.Token:
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
