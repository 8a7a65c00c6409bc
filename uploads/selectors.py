"""Read functions for documents (current tenant schema)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from billing.selectors import plan_for

from .models import Document

# States whose bytes are stored (quarantine or documents storage) and count against quota.
STORED_STATES = (
    Document.State.QUARANTINED,
    Document.State.SCANNING,
    Document.State.AVAILABLE,
    Document.State.DELETED,
)


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    quota_bytes: int
    used_bytes: int

    @property
    def quota_left_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)


def storage_used_bytes() -> int:
    """Bytes the current tenant stores, including deleted documents not yet purged."""
    total = Document.objects.filter(state__in=STORED_STATES).aggregate(total=Sum("size"))
    return total["total"] or 0


def max_file_bytes(plan) -> int:
    """The plan's per-file maximum, capped by the scanner's limit."""
    return min(plan.max_upload_bytes, settings.UPLOADS_SCANNER_MAX_BYTES)


def limits_of(plan) -> UploadLimits:
    """The plan's per-file maximum and quota, with what is used of it (sums the storage)."""
    return UploadLimits(
        max_file_bytes=max_file_bytes(plan),
        quota_bytes=plan.storage_quota_bytes,
        used_bytes=storage_used_bytes(),
    )


def upload_limits(*, tenant) -> UploadLimits:
    """``limits_of`` the tenant's plan, read from the database now."""
    return limits_of(plan_for(tenant))


def visible_documents() -> QuerySet[Document]:
    """Documents on the documents page: everything not deleted."""
    return Document.objects.exclude(state=Document.State.DELETED).select_related("uploaded_by")


def recently_deleted() -> QuerySet[Document]:
    """Deleted documents still within the restore window."""
    cutoff = timezone.now() - timedelta(days=settings.UPLOADS_RESTORE_DAYS)
    return Document.objects.filter(state=Document.State.DELETED, deleted_at__gte=cutoff).order_by(
        "-deleted_at"
    )


def blocked_documents() -> QuerySet[Document]:
    """Blocked uploads, newest first: the admins' in-app notice."""
    return Document.objects.filter(state=Document.State.BLOCKED).select_related("uploaded_by")


def scan_backlog(schema_names: list[str]) -> tuple[int, float | None]:
    """Across the given tenant schemas: documents waiting for (or in) a virus scan,
    and the age in seconds of the oldest of them (None when there are none). One
    statement for the whole fleet (``UNION ALL`` of one indexed count per schema)."""
    from django.db import connection

    if not schema_names:
        return 0, None
    waiting = [Document.State.QUARANTINED.value, Document.State.SCANNING.value]
    # Schema names come from our own Tenant rows (validated identifiers), quoted.
    one = (
        "SELECT count(*) AS n, min(created_at) AS oldest FROM {}.uploads_document "
        "WHERE state = ANY(%s)"
    )
    parts = [one.format(connection.ops.quote_name(name)) for name in schema_names]
    union = " UNION ALL ".join(parts)
    head = "SELECT coalesce(sum(n), 0), extract(epoch FROM statement_timestamp() - min(oldest))"
    sql = f"{head} FROM ({union}) AS s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [waiting] * len(parts))
        count, age = cursor.fetchone()
    return int(count), (float(age) if age is not None else None)


# The documents page's sort orders: the query value, and the columns it orders by.
DOCUMENT_SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "name": ("name_lower", "id"),
    "-name": ("-name_lower", "-id"),
    "size": ("size", "id"),
    "-size": ("-size", "-id"),
}
DEFAULT_DOCUMENT_SORT = "-created"


def search_documents(*, query: str = "", sort: str = DEFAULT_DOCUMENT_SORT) -> QuerySet[Document]:
    """Visible documents whose name contains ``query`` (any case), in one of
    ``DOCUMENT_SORTS`` (an unknown sort is the default, newest first)."""
    documents = visible_documents()
    query = query.strip()
    if query:
        documents = documents.filter(name__icontains=query)
    order = DOCUMENT_SORTS.get(sort, DOCUMENT_SORTS[DEFAULT_DOCUMENT_SORT])
    return documents.annotate(name_lower=Lower("name")).order_by(*order)


def waiting_count() -> int:
    """Documents waiting for (or in) their virus scan."""
    return Document.objects.filter(
        state__in=(Document.State.QUARANTINED, Document.State.SCANNING)
    ).count()


def recent_documents(*, uploaded_by=None, limit: int = 5) -> list[Document]:
    """The newest visible documents (of ``uploaded_by`` when given): the dashboard's list."""
    documents = visible_documents()
    if uploaded_by is not None:
        documents = documents.filter(uploaded_by=uploaded_by)
    return list(documents.order_by("-created_at")[:limit])


def document_rows(fields: tuple[str, ...], *, stored_only: bool = False) -> QuerySet:
    """The current workspace's documents in every state, oldest first, as dicts of
    ``fields``; ``stored_only``: those whose bytes are in the documents storage."""
    documents = Document.objects.order_by("pk")
    if stored_only:
        documents = documents.filter(storage_key__gt="")
    return documents.values(*fields)
