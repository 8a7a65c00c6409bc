"""Periodic upkeep of the usage figures (``console.usage``)."""

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
