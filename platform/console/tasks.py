"""The console's background work: the usage figures' upkeep (``console.usage``), and the
workspace moves queued from its pages."""

from celery import shared_task
from django_tenants.utils import schema_context

from core.principal import SYSTEM

from . import services


@shared_task(ignore_result=True)
def refresh_stale_usage() -> int:
    """Every minute: recompute the workspaces whose figures changed."""
    with schema_context("public"):
        return services.usage_refresh_stale(actor=SYSTEM)


@shared_task(ignore_result=True)
def refresh_all_usage() -> int:
    """Nightly: recompute every workspace's figures (the safety net)."""
    with schema_context("public"):
        return services.usage_refresh_all(actor=SYSTEM)


@shared_task(acks_late=True, ignore_result=True)
def move_workspace(tenant_id: int, to: str) -> str:
    """A move queued from the console (``services.workspace_move_request``): no retry, a
    failed move is recorded and left to the admin who asked (the page shows the node)."""
    with schema_context("public"):
        moved = services.workspace_move(actor=SYSTEM, tenant_id=tenant_id, to=to)
    return str(moved.target)
