"""Read functions for plans."""

from .models import Plan


def default_plan() -> Plan:
    """The plan a new workspace starts on."""
    return Plan.objects.get(is_default=True)


def plan_for(tenant) -> Plan:
    """The tenant's plan (the default plan when it has none yet)."""
    if tenant.plan_id:
        return Plan.objects.get(pk=tenant.plan_id)
    return default_plan()
