"""Reading the audit log: the one read API for the workspace views, the exports and
(later) the vendor support console. Permission checks live here, not in the views."""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AuditEvent

EXPORT_FIELDS = (
    "id", "occurred_at", "actor_type", "actor_id", "actor_display", "impersonator_id",
    "impersonator_display", "action", "target_type", "target_id", "target_display", "ip",
    "user_agent", "request_id", "changes",
)  # fmt: skip


@dataclass(frozen=True)
class EventFilter:
    """What a reader narrows the log to; every part optional."""

    actor: str = ""  # actor id, or part of the actor's display string
    action: str = ""  # an action, or a prefix ending in "." (``auth.``)
    target: str = ""  # target id, or part of the target's display string
    since: date | None = None
    until: date | None = None  # inclusive

    def apply(self, events: QuerySet) -> QuerySet:
        if self.actor:
            events = events.filter(Q(actor_id=self.actor) | Q(actor_display__icontains=self.actor))
        if self.action:
            if self.action.endswith("."):
                events = events.filter(action__startswith=self.action)
            else:
                events = events.filter(action=self.action)
        if self.target:
            events = events.filter(
                Q(target_id=self.target) | Q(target_display__icontains=self.target)
            )
        if self.since:
            events = events.filter(occurred_at__gte=_day_start(self.since))
        if self.until:
            events = events.filter(occurred_at__lt=_day_start(self.until + timedelta(days=1)))
        return events


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def is_tenant_admin(user) -> bool:
    from accounts.models import User

    return bool(getattr(user, "is_authenticated", False)) and user.role in {
        User.Role.OWNER,
        User.Role.ADMIN,
    }


def _chain_of(tenant) -> str:
    return tenant.schema_name


def _check_reader(*, tenant, user, vendor: bool) -> None:
    if vendor:
        # Vendor staff read from the public site, never from inside a workspace.
        if not (
            getattr(user, "is_authenticated", False)
            and user.is_staff
            and connection.schema_name == "public"
        ):
            raise PermissionDenied(_("Only vendor staff can read this log."))
        return
    if connection.schema_name != tenant.schema_name:
        raise PermissionDenied(_("This log belongs to another workspace."))
    if not is_tenant_admin(user):
        raise PermissionDenied(_("Only workspace owners and admins can read the audit log."))


def tenant_events(*, tenant, user, vendor: bool = False, filters: EventFilter | None = None):
    """Every event of ``tenant``'s chain, newest first: for its admins (or vendor staff)."""
    _check_reader(tenant=tenant, user=user, vendor=vendor)
    events = AuditEvent.objects.filter(chain=_chain_of(tenant)).order_by("-id")
    return (filters or EventFilter()).apply(events)


def my_events(*, tenant, user, filters: EventFilter | None = None):
    """Events about ``user`` in ``tenant``: what they did and what was done to their account."""
    if connection.schema_name != tenant.schema_name or not user.is_authenticated:
        raise PermissionDenied
    pk = str(user.pk)
    events = AuditEvent.objects.filter(chain=_chain_of(tenant)).filter(
        Q(actor_type=AuditEvent.ActorType.USER, actor_id=pk)
        | Q(target_type="accounts.user", target_id=pk)
    )
    return (filters or EventFilter()).apply(events.order_by("-id"))


def event_detail(*, tenant, user, event_id: int) -> AuditEvent:
    """One event of ``tenant``: any for an admin, only their own for a member; else 404."""
    if is_tenant_admin(user):
        events = tenant_events(tenant=tenant, user=user)
    else:
        events = my_events(tenant=tenant, user=user)
    event = events.filter(pk=event_id).first()
    if event is None:
        raise Http404
    return event


def page(events: QuerySet, *, before: int | None, size: int = 50) -> tuple[list, int | None]:
    """Keyset pagination (newest first): a page, and the id to ask for the next one."""
    if before:
        events = events.filter(id__lt=before)
    rows = list(events[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].pk if more and rows else None)


def _rows(events: QuerySet, chunk_size: int) -> Iterator[tuple]:
    yield from events.values_list(*EXPORT_FIELDS).iterator(chunk_size=chunk_size)


def export_csv(events: QuerySet, *, chunk_size: int = 2000) -> Iterator[str]:
    """The events as CSV text, streamed in chunks (memory stays flat for any size)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_FIELDS)
    for count, row in enumerate(_rows(events, chunk_size), start=1):
        row = list(row)
        row[1] = row[1].isoformat()
        row[-1] = json.dumps(row[-1], sort_keys=True, ensure_ascii=False)
        # Neutralise spreadsheet formulas in user-controlled text (CSV injection).
        writer.writerow([_csv_safe(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def export_jsonl(events: QuerySet, *, chunk_size: int = 2000) -> Iterator[str]:
    """The events as JSON Lines, streamed in chunks."""
    lines = []
    for row in _rows(events, chunk_size):
        item = dict(zip(EXPORT_FIELDS, row, strict=True))
        item["occurred_at"] = item["occurred_at"].isoformat()
        lines.append(json.dumps(item, ensure_ascii=False))
        if len(lines) == 500:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"
