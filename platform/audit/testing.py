"""Test helpers for every module: assert exactly which audit events a block wrote.

with assert_audited(("tenant.suspended", tenant)):
    suspend_tenant(tenant)

with capture_audit() as events:
    do_something()
assert [e.action for e in events] == ["staff.invited"]
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Max

from .models import AuditEvent
from .services import _describe


class CapturedEvents(list):
    """The events written inside a ``capture_audit`` block, oldest first (filled on exit)."""

    @property
    def actions(self) -> list[str]:
        return [event.action for event in self]


def high_water() -> int:
    """The id of the newest event (0 when none): events after it are new."""
    return AuditEvent.objects.aggregate(top=Max("id"))["top"] or 0


@contextmanager
def capture_audit() -> Iterator[CapturedEvents]:
    events = CapturedEvents()
    before = high_water()
    yield events
    events.extend(AuditEvent.objects.filter(id__gt=before).order_by("id"))


@contextmanager
def assert_audited(*expected) -> Iterator[CapturedEvents]:
    """Fail unless the block wrote exactly ``expected``, in order.

    Each item is an action (``"auth.login"``), an ``(action, target)`` pair, or
    an ``(action, target, changes)`` triple; ``target`` is a model instance or
    a ``(type, id, display)`` tuple (type and id are compared).
    """
    with capture_audit() as events:
        yield events
    got = [_shape(event, item) for event, item in zip(events, expected, strict=False)]
    want = [_want(item) for item in expected]
    assert len(events) == len(expected) and got == want, (
        f"audit events differ:\n  expected {want}\n  written  {[_shape(e, None) for e in events]}"
    )


def _want(item) -> tuple:
    if isinstance(item, str):
        return (item,)
    action, target, *rest = item
    kind, ident, _display = _describe(target)
    return (action, kind, ident, *rest)


def _shape(event: AuditEvent, item) -> tuple:
    if isinstance(item, str):
        return (event.action,)
    shape = (event.action, event.target_type, event.target_id)
    if item is not None and len(item) == 3:
        return (*shape, event.changes)
    return shape
