"""When each workspace was last backed up: the one source the health check and the
metrics read, and the one place the backup code writes.

Contract: after a workspace's backup is complete and stored, the backup code calls
``record_success(schema_name=tenant.schema_name)``. Readers call ``summary()``.
The times live in the ``ops`` cache (Redis), one key per schema
(``backup:last_success:<schema>``, an ISO-8601 UTC time, no expiry). If Redis
loses them, the ages read as "never backed up" until the next backup writes them
again (at most one backup interval): the alert then errs on the side of paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import caches
from django.utils import timezone

KEY = "backup:last_success:{schema}"


def _cache():
    return caches["ops"]


def record_success(*, schema_name: str, finished_at: datetime | None = None) -> None:
    """Note that ``schema_name``'s backup finished (now, unless ``finished_at``)."""
    when = finished_at or timezone.now()
    if timezone.is_naive(when):
        raise ValueError("finished_at must be timezone-aware")
    _cache().set(KEY.format(schema=schema_name), when.isoformat(), timeout=None)


def last_success(schema_names: list[str]) -> dict[str, datetime]:
    """The last successful backup of each of ``schema_names`` that has one."""
    keys = {KEY.format(schema=name): name for name in schema_names}
    found = _cache().get_many(list(keys))
    return {keys[key]: datetime.fromisoformat(value) for key, value in found.items()}


@dataclass(frozen=True)
class BackupSummary:
    workspaces: int  # active workspaces
    backed_up: int  # of which have a recorded backup
    oldest_age_seconds: float | None  # of the stalest workspace; None without workspaces

    @property
    def any_recorded(self) -> bool:
        """False until the backup system has recorded a backup of any active workspace."""
        return self.backed_up > 0


def summary(now: datetime | None = None) -> BackupSummary:
    """Aggregated over active workspaces: the age of the stalest last backup. A
    workspace never backed up counts from its creation."""
    from .models import Tenant

    now = now or timezone.now()
    tenants = list(
        Tenant.objects.filter(state=Tenant.State.ACTIVE).values_list("schema_name", "created_at")
    )
    last = last_success([schema for schema, _created in tenants])
    ages = [(now - last.get(schema, created)).total_seconds() for schema, created in tenants]
    return BackupSummary(
        workspaces=len(tenants),
        backed_up=len(last),
        oldest_age_seconds=max(ages) if ages else None,
    )
