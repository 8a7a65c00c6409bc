"""Reading the audit log: the one read API for the workspace views, the exports and
the vendor support console. Permission checks live here, not in the views.

- ``tenant_events`` (a tenant's admins, inside their workspace), ``my_events`` (any
  member: events about themselves),
  ``chain_events`` (vendor staff, on the public site: any chain, ``""`` being
  the platform's), ``event_detail`` / ``vendor_event_detail`` (one event).
- ``recent_events``: the newest few a reader may see (the dashboard).
- ``events_in_order``: a chain's events oldest first, for a service that has checked
  its own permission (a workspace's export archive).
- ``EventFilter`` narrows any of them; ``page`` pages them (keyset).
- ``export_csv`` / ``export_jsonl`` stream a queryset returned by the functions
  above. PostgreSQL formats each line; Python only joins them into chunks.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.principal import is_vendor_staff, is_workspace_admin
from core.workspace import current as current_workspace

from . import registry
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
    actions: tuple[str, ...] = ()  # any of these (``registry.matching``'s answer)
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
        if self.actions:
            events = events.filter(action__in=self.actions)
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


def _is_vendor_staff(user) -> bool:
    # Vendor staff read from the public site, never from inside a workspace.
    return current_workspace().is_public and is_vendor_staff(user)


def _check_admin_reader(*, tenant, user) -> None:
    if current_workspace().schema_name != tenant.schema_name:
        raise PermissionDenied(_("This log belongs to another workspace."))
    if not is_workspace_admin(user):
        raise PermissionDenied(_("Only workspace owners and admins can read the audit log."))


def _newest_first(chain: str, filters: EventFilter | None) -> QuerySet:
    events = AuditEvent.objects.filter(chain=chain).order_by("-id")
    return (filters or EventFilter()).apply(events)


def tenant_events(*, tenant, user, filters: EventFilter | None = None):
    """Every event of ``tenant``'s chain, newest first: for its admins, in the workspace
    (vendor staff read any chain with ``chain_events``)."""
    _check_admin_reader(tenant=tenant, user=user)
    return _newest_first(tenant.schema_name, filters)


def events_in_order(*, chain: str) -> QuerySet:
    """Every event of ``chain``, oldest first. No permission check: the caller is a
    service that made its own (the export of a workspace's archive)."""
    return AuditEvent.objects.filter(chain=chain).order_by("id")


def chain_events(*, chain: str, user, filters: EventFilter | None = None) -> QuerySet:
    """Every event of any ``chain`` (a tenant's schema name, or ``""`` for the
    platform's own), newest first: vendor staff only, from the public site.

    The chain of a deleted tenant stays readable here: the log outlives it.
    """
    if not _is_vendor_staff(user):
        raise PermissionDenied(_("Only vendor staff can read this log."))
    return _newest_first(chain, filters)


def vendor_event_detail(*, chain: str, user, event_id: int) -> AuditEvent:
    """One event of ``chain`` for vendor staff; 404 when it is not in that chain."""
    event = chain_events(chain=chain, user=user).filter(pk=event_id).first()
    if event is None:
        raise Http404
    return event


def my_events(*, tenant, user, filters: EventFilter | None = None):
    """Events about ``user`` in ``tenant``: what they did and what was done to their account."""
    me = getattr(user, "acting_user", None)
    if current_workspace().schema_name != tenant.schema_name or me is None:
        raise PermissionDenied
    pk = str(me.pk)
    return _newest_first(tenant.schema_name, filters).filter(
        Q(actor_type=AuditEvent.ActorType.USER, actor_id=pk)
        | Q(target_type="accounts.user", target_id=pk)
    )


def event_detail(*, tenant, user, event_id: int) -> AuditEvent:
    """One event of ``tenant``: any for an admin, only their own for a member; else 404."""
    if is_workspace_admin(user):
        events = tenant_events(tenant=tenant, user=user)
    else:
        events = my_events(tenant=tenant, user=user)
    event = events.filter(pk=event_id).first()
    if event is None:
        raise Http404
    return event


def recent_events(*, tenant, user, limit: int = 8) -> list[AuditEvent]:
    """The newest events a reader may see, for the dashboard: the whole workspace's for
    its admins, their own for everyone else (one bounded query)."""
    select = tenant_events if is_workspace_admin(user) else my_events
    return list(select(tenant=tenant, user=user)[:limit])


def page(events: QuerySet, *, before: int | None, size: int = 50) -> tuple[list, int | None]:
    """Keyset pagination (newest first): a page, and the id to ask for the next one."""
    if before:
        events = events.filter(id__lt=before)
    rows = list(events[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].pk if more and rows else None)


def _utc_text(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def _csv_cell(column: str) -> str:
    """A quoted CSV cell; text starting with ``= + - @``, tab or CR gets a leading
    ``'`` so that spreadsheets do not run it as a formula (CSV injection)."""
    guarded = (
        f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN '''' || {column} ELSE {column} END"
    )
    return f"""'"' || replace({guarded}, '"', '""') || '"'"""


def _column_sql(name: str) -> str:
    column = f'"audit_auditevent"."{name}"'
    if name == "id":
        return f"{column}::text"
    if name == "occurred_at":
        return _utc_text(column)
    if name == "ip":
        return f"coalesce(host({column}), '')"
    if name == "changes":
        return f"{column}::text"
    return column


def _json_value(name: str) -> str:
    column = f'"audit_auditevent"."{name}"'
    if name == "occurred_at":
        return _utc_text(column)
    if name == "ip":
        return f"host({column})"
    return column


# Whole lines, built by PostgreSQL (the sentence, in the reader's language, is the one
# column Python adds).
_CSV_LINE = (
    "concat_ws(',', "
    + ", ".join(
        _column_sql(n) if n in ("id", "occurred_at") else _csv_cell(_column_sql(n))
        for n in EXPORT_FIELDS
    )
    + ")"
)
_JSON_LINE = (
    "json_build_object(" + ", ".join(f"'{n}', {_json_value(n)}" for n in EXPORT_FIELDS) + ")::text"
)
_LINES_PER_CHUNK = 1000
_SENTENCE_FIELDS = (
    "action", "actor_type", "actor_display", "target_display", "impersonator_display", "_changes",
)  # fmt: skip
_ACTOR_TYPES = dict(AuditEvent.ActorType.choices)


def _sentences():
    """A function from an export row's fields to its sentence, in the active language.
    ``changes`` comes as JSON text, parsed only for the actions whose sentence shows a
    change (a few): most events are read without a JSON parse."""
    cache = registry.SentenceCache()
    render = cache.sentence_for
    needs_changes: dict[str, bool] = {}

    def sentence(action, actor_type, actor_display, target_display, impersonator, changes):
        needed = needs_changes.get(action)
        if needed is None:
            needed = needs_changes[action] = cache.needs_changes(action)
        return render(
            action=action,
            actor=actor_display or str(_ACTOR_TYPES.get(actor_type, actor_type)),
            target=target_display,
            impersonator=impersonator,
            changes=json.loads(changes) if needed else None,
        )

    return sentence


def _csv_text(value: str) -> str:
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        value = "'" + value
    return '"' + value.replace('"', '""') + '"'


def _csv_row(line: str, sentence: str) -> str:
    return f"{line},{_csv_text(sentence)}\r\n"


def _json_row(line: str, sentence: str) -> str:
    # json_build_object's text ends with "}": the sentence goes in as the last key.
    return f'{line[:-1]}, "sentence" : {json.dumps(sentence, ensure_ascii=False)}}}\n'


def _lines(events: QuerySet, line_sql: str, row, chunk_size: int) -> Iterator[str]:
    """Chunks of lines formatted by PostgreSQL, read through a server-side cursor
    ``chunk_size`` rows at a time (memory stays flat for any number of events), each
    completed by ``row`` with the event's sentence in the active language."""
    lines = (
        events.annotate(
            _line=RawSQL(line_sql, ()),  # noqa: S611 - constant SQL, no input
            _changes=RawSQL('"audit_auditevent"."changes"::text', ()),
        )
        .values_list("_line", *_SENTENCE_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    batch: list[str] = []
    append = batch.append
    sentence = _sentences()
    for line, *fields in lines:
        append(row(line, sentence(*fields)))
        if len(batch) == _LINES_PER_CHUNK:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


def _in_language(language: str | None, chunks: Iterator[str]) -> Iterator[str]:
    # A streamed body is written after the view returned: keep the reader's language.
    with translation.override(language or translation.get_language()):
        yield from chunks


def export_csv(
    events: QuerySet, *, chunk_size: int = 5000, language: str | None = None
) -> Iterator[str]:
    """The events as CSV (RFC 4180, CRLF), streamed in chunks; ``changes`` is JSON text,
    ``sentence`` (last) the event as people read it, in ``language``."""
    yield ",".join((*EXPORT_FIELDS, "sentence")) + "\r\n"
    yield from _in_language(language, _lines(events, _CSV_LINE, _csv_row, chunk_size))


def export_jsonl(
    events: QuerySet, *, chunk_size: int = 5000, language: str | None = None
) -> Iterator[str]:
    """The events as JSON Lines (one object per event, with its ``sentence``), streamed."""
    yield from _in_language(language, _lines(events, _JSON_LINE, _json_row, chunk_size))


# --- Operations (health checks and metrics) ------------------------------------

# The seal-lag probe looks at this many of the newest events (a bounded scan).
SEAL_LAG_WINDOW = 50_000
LAST_VERIFICATION_KEY = "audit:last_verification"


def seal_lag_seconds() -> float:
    """Age of the oldest committed event not yet linked into its chain, among the
    newest ``SEAL_LAG_WINDOW`` events; 0 when every one of them is sealed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT extract(epoch FROM statement_timestamp() - min(e.occurred_at))
            FROM audit_auditevent e
            WHERE e.id > (SELECT coalesce(max(id), 0) FROM audit_auditevent) - %s
              AND NOT EXISTS (SELECT 1 FROM audit_auditchainlink l WHERE l.event_id = e.id)
            """,
            [SEAL_LAG_WINDOW],
        )
        lag = cursor.fetchone()[0]
    return max(float(lag or 0), 0.0)


def last_verification() -> dict | None:
    """``{"at": ISO time, "chains": n, "bad": n}`` of the last daily verification
    (``audit.tasks.verify_all``), or None if none ran since the ops cache was emptied."""
    from django.core.cache import caches

    return caches["ops"].get(LAST_VERIFICATION_KEY)
