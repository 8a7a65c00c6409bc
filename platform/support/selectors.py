"""Reads of support data: consent, sessions, the users a vendor may work as."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django_tenants.utils import schema_context

from accounts.selectors import staff_list
from tenants.selectors import tenant_for_slug

from . import clock
from .models import EndCause, Mode, SupportPolicy, SupportSession
from .services import idle_limit, overall_limit

__all__ = [
    "EndCause",
    "Mode",
    "WorkspaceUser",
    "active_sessions",
    "ends_at",
    "idle_limit",
    "minutes_left",
    "overall_limit",
    "policy_for",
    "session_of_vendor",
    "sessions_of_tenant",
    "sessions_of_vendor",
    "workspace_users",
]


def policy_for(tenant_id: int) -> SupportPolicy:
    """The workspace's consent (an unsaved default, off and owners emailed, when unset)."""
    return SupportPolicy.objects.filter(tenant_id=tenant_id).first() or SupportPolicy(
        tenant_id=tenant_id, mode=Mode.OFF
    )


def sessions_of_tenant(tenant_id: int, *, limit: int = 50) -> list[SupportSession]:
    """A workspace's support sessions, running ones first, then the newest."""
    rows = SupportSession.objects.filter(tenant_id=tenant_id)
    running = list(rows.filter(ended_at__isnull=True).order_by("-started_at"))
    past = list(rows.filter(ended_at__isnull=False).order_by("-started_at")[:limit])
    return running + past


def active_sessions() -> QuerySet[SupportSession]:
    """Every running support session of the fleet (the console's list)."""
    return (
        SupportSession.objects.filter(ended_at__isnull=True)
        .select_related("tenant")
        .order_by("-started_at")
    )


def sessions_of_vendor(vendor_id: int, *, limit: int = 20) -> QuerySet[SupportSession]:
    return SupportSession.objects.filter(vendor_id=vendor_id).select_related("tenant")[:limit]


def session_of_vendor(vendor_id: int, session_id: str) -> SupportSession | None:
    return (
        SupportSession.objects.filter(pk=session_id, vendor_id=vendor_id)
        .select_related("tenant")
        .first()
    )


def ends_at(row: SupportSession) -> datetime:
    """When ``row`` ends at the latest: its 2 h limit or 30 min after its last request."""
    return min(row.expires_at, row.last_seen_at + idle_limit())


def minutes_left(row: SupportSession) -> int:
    return max(int((ends_at(row) - clock.now()).total_seconds() // 60), 0)


@dataclass(frozen=True)
class WorkspaceUser:
    id: int
    email: str
    full_name: str
    role: str


def workspace_users(slug: str, *, query: str = "", limit: int = 100) -> list[WorkspaceUser]:
    """Active users of workspace ``slug`` a vendor may start a session as ([] when none)."""
    tenant = tenant_for_slug(slug)
    if tenant is None:
        return []
    with schema_context(tenant.schema_name):
        users = staff_list(query=query, status="active")[:limit]
        return [WorkspaceUser(u.pk, u.email, u.full_name, u.get_role_display()) for u in users]
