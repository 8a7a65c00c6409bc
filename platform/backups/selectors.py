"""Reads of the backups module, for pages, commands and metrics.

Metric-ready values (plain numbers and dicts; another module's ``/metrics`` calls them):

* ``last_backup_age_seconds()``: the largest age, over every workspace holding data
  (active or suspended), of its newest successful backup; a workspace never backed up
  counts from its creation. None when there is no such workspace. With ``tenant``:
  that workspace's age, None when it has no backup.
* ``backup_ages_seconds()``: the same per workspace slug.
* ``last_drill_result()``: the newest restore drill as a dict, None before the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q
from django.utils import timezone

from tenants.selectors import Tenant

from .models import Backup, RestoreDrill

_HOLDING_DATA = [Tenant.State.ACTIVE, Tenant.State.SUSPENDED]


def backups_of(tenant: Tenant):
    """The tenant's catalogued backups, newest first."""
    return Backup.objects.filter(tenant=tenant).order_by("-created_at")


def latest_backup(tenant: Tenant) -> Backup | None:
    return backups_of(tenant).filter(status=Backup.Status.OK).first()


def backup_ages_seconds(now: datetime | None = None) -> dict[str, float]:
    now = now or timezone.now()
    rows = Tenant.objects.filter(state__in=_HOLDING_DATA).annotate(
        last=Max("backups__created_at", filter=Q(backups__status=Backup.Status.OK))
    )
    return {t.slug: (now - (t.last or t.created_at)).total_seconds() for t in rows}


def last_backup_age_seconds(
    tenant: Tenant | None = None, now: datetime | None = None
) -> float | None:
    now = now or timezone.now()
    if tenant is not None:
        last = latest_backup(tenant)
        return (now - last.created_at).total_seconds() if last else None
    ages = backup_ages_seconds(now)
    return max(ages.values()) if ages else None


def last_drill_result(now: datetime | None = None) -> dict | None:
    drill = RestoreDrill.objects.select_related("tenant").order_by("-finished_at").first()
    if drill is None:
        return None
    now = now or timezone.now()
    return {
        "ok": drill.ok,
        "workspace": drill.tenant.slug if drill.tenant else "",
        "backup_id": drill.backup_id,
        "finished_at": drill.finished_at.isoformat(),
        "age_seconds": (now - drill.finished_at).total_seconds(),
        "seconds": drill.seconds,
        "error": drill.error,
    }


def drill_candidate() -> Tenant | None:
    """``BACKUP_DRILL_WORKSPACE``, else the workspace with a backup whose last drill is
    oldest (never drilled first): over days the drill rotates through the fleet."""
    from django.conf import settings

    with_backup = Tenant.objects.filter(
        state__in=_HOLDING_DATA, backups__status=Backup.Status.OK
    ).distinct()
    if settings.BACKUP_DRILL_WORKSPACE:
        return with_backup.filter(slug=settings.BACKUP_DRILL_WORKSPACE).first()
    last = dict(RestoreDrill.objects.values_list("tenant_id").annotate(at=Max("finished_at")))
    candidates = sorted(
        with_backup, key=lambda t: (t.pk in last, last.get(t.pk) or timezone.now(), t.slug)
    )
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class BackupSummary:
    workspaces: int  # active workspaces
    backed_up: int  # of which have a successful backup in the catalogue
    oldest_age_seconds: float | None  # of the stalest workspace; None without workspaces

    @property
    def any_recorded(self) -> bool:
        """False until any active workspace has been backed up."""
        return self.backed_up > 0


def summary(now: datetime | None = None) -> BackupSummary:
    """Over active workspaces, from the catalogue: how many have a backup and the age of
    the stalest last one (a workspace never backed up counts from its creation). What the
    deep health check and ``/metrics`` report."""
    now = now or timezone.now()
    rows = list(
        Tenant.objects.filter(state=Tenant.State.ACTIVE)
        .annotate(last=Max("backups__created_at", filter=Q(backups__status=Backup.Status.OK)))
        .values_list("last", "created_at")
    )
    ages = [(now - (last or created)).total_seconds() for last, created in rows]
    return BackupSummary(
        workspaces=len(rows),
        backed_up=sum(1 for last, _created in rows if last is not None),
        oldest_age_seconds=max(ages) if ages else None,
    )
