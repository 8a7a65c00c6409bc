"""Reads of the offboarding module: a workspace's exports and its deletion schedule."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Deletion, Export

__all__ = ["Deletion", "Export", "deletions_of", "export", "exports_of", "open_deletion"]


def exports_of(tenant_id: int, *, limit: int = 20) -> list[Export]:
    """The workspace's newest exports."""
    return list(Export.objects.filter(tenant_id=tenant_id).order_by("-created_at")[:limit])


def export(export_id) -> Export | None:
    return Export.objects.select_related("tenant").filter(pk=export_id).first()


def open_deletion(tenant_id: int) -> Deletion | None:
    """The workspace's deletion schedule that is neither restored nor purged, if any."""
    return Deletion.objects.filter(
        tenant_id=tenant_id, restored_at__isnull=True, purged_at__isnull=True
    ).first()


def deletions_of(tenant_id: int) -> QuerySet[Deletion]:
    """Every deletion schedule of the workspace, newest first (its history)."""
    return Deletion.objects.filter(tenant_id=tenant_id).order_by("-scheduled_at")
